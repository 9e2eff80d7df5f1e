using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

/// <summary>The CI-sized check of the quickstart: a short run on the built-in Fashion-MNIST moves its metrics the right way.</summary>
[Collection(TinyRunCollection.Name)]
public class TrainingProgressTests
{
    private static IReadOnlyList<StepMetrics> TrainShort(TempRun run)
    {
        var config = TinyConfig.Create(c =>
        {
            c.Data.LabelsPerClass = 10;              // 100 labelled images
            c.Objective.QueueCapacity = "auto";      // 200 entries
            c.Optimizer.BaseLr = 8;                  // LARS moves each layer by ~lr x 1e-3 x |w| a step: small batches need a large lr
            // 100 steps: at lr 8 the first tens of steps are noisy enough that float rounding (e.g. a different but
            // equally exact weight-gradient kernel) moves the 60-step loss by 0.1 either side of chance.
            c.Training.Steps = 100;
            c.Training.WarmupSteps = 10;
            c.Training.LogEvery = 10;
            c.Training.CheckpointEvery = 100;
        });
        TinyTraining.Run(config, run.Folder);
        return MetricsLog.ReadAll(run.Folder.Metrics);
    }

    [Fact]
    public void Short_run_lowers_the_loss()
    {
        using var run = new TempRun("progress");
        var rows = TrainShort(run);
        Assert.Equal([9L, 19, 29, 39, 49, 59, 69, 79, 89, 99], rows.Select(r => r.Step));
        Assert.All(rows, r => Assert.True(double.IsFinite(r.Loss)));
        // The contrastive (augmentation) part: at chance it is log(1 + negatives) = log 11 = 2.40.
        double first = rows.Take(2).Average(r => r.LossAugmentation), last = rows.TakeLast(3).Average(r => r.LossAugmentation);
        Assert.True(last < first, $"augmentation loss did not fall: first rows {first:F3}, last rows {last:F3}");
        // Measured (2 cores, tiny network, 100 steps, seeds 0/1/2): first two rows 2.48-2.96 -> last three 2.10-2.36;
        // below chance means views are told apart.
        Assert.True(last < 0.95 * first, $"augmentation loss fell too little: first rows {first:F3}, last rows {last:F3}");
        Assert.True(last < Math.Log(11), $"augmentation loss {last:F3} is not below chance (log 11 = {Math.Log(11):F3})");
        Assert.All(rows, r => Assert.NotNull(r.PseudoLabelAccuracy));
    }

    // Needs a learning rate LARS can move with at this batch size, and lambda 0.1 (the default): with the
    // earlier lambda 5 the invariance term held the network at uniform similarities and accuracy at chance.
    [Fact]
    public void Short_run_lifts_pseudo_label_accuracy_well_above_chance()
    {
        using var run = new TempRun("progress-pl");
        var config = TinyConfig.Create(c =>
        {
            c.Data.LabelsPerClass = 10;              // 100 labelled images
            c.Objective.QueueCapacity = "auto";      // 200 entries
            c.Model.Width = 0.25;                    // the quickstart network and batch
            c.Model.Projector = new() { Hidden = 256, Out = 64 };
            c.Model.Predictor = new() { Hidden = 256, Out = 64 };
            c.Optimizer.BaseLr = 8;
            c.Training.BatchUnlabelled = 64;
            c.Training.BatchLabelled = 16;
            c.Training.Steps = 120;
            c.Training.WarmupSteps = 20;
            c.Training.LogEvery = 10;
            c.Training.CheckpointEvery = 120;
        });
        TinyTraining.Run(config, run.Folder);
        var rows = MetricsLog.ReadAll(run.Folder.Metrics);
        double first = rows.Take(2).Average(r => r.PseudoLabelAccuracy!.Value);
        double last = rows.TakeLast(3).Average(r => r.PseudoLabelAccuracy!.Value);
        Assert.True(last > first, $"pseudo-label accuracy did not rise: {first:P1} -> {last:P1}");
        Assert.True(last > 0.25, $"pseudo-label accuracy {last:P1} over the last rows (10 classes: chance 10%)");
    }
}

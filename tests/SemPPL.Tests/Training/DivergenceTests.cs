using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

[Collection(TinyRunCollection.Name)]
public class DivergenceTests
{
    private static readonly string[] LossParts =
        [ArtifactNames.Loss, ArtifactNames.LossAugmentation, ArtifactNames.LossSemanticPositive, ArtifactNames.LossInvariance, ArtifactNames.LossClassifier, ArtifactNames.ClassifierAccuracy];

    [Fact]
    public void Exploding_learning_rate_stops_with_the_step_and_loss_part_and_keeps_a_good_checkpoint()
    {
        // base_lr 1e6 (peak lr ~ 1e5 with LARS): weights grow ~1000x a step and the loss overflows within ~10 steps.
        var config = TinyConfig.Create(c =>
        {
            c.Optimizer.BaseLr = 1e6;
            c.Training.CheckpointEvery = 2;
            c.Training.LogEvery = 1;
            c.Training.KeepCheckpoints = 2;
        });
        using var run = new TempRun("diverge");
        var e = Assert.Throws<TrainingDivergedException>(() => TinyTraining.Run(config, run.Folder));

        Assert.InRange(e.Step, 2, 19);
        // A loss part, or the state tensor that overflowed first (caught before it could be checkpointed).
        Assert.True(LossParts.Contains(e.LossPart) || e.LossPart.Split('.')[0] is "online" or "target" or "state" or "queue",
            $"'{e.LossPart}' is neither a loss part nor a state tensor");
        Assert.Contains($"step {e.Step}", e.Message);
        Assert.Contains($"{e.LossPart} = ", e.Message);
        Assert.Contains("optimizer.base_lr", e.Message);

        // Stopped: nothing was checkpointed after the bad step nor logged after it.
        var store = new CheckpointStore(run.Root);
        var steps = store.List().Select(c => c.Step).ToList();
        Assert.NotEmpty(steps);
        Assert.All(steps, s => Assert.True(s <= e.Step, $"checkpoint {s} written after the divergence at step {e.Step}"));
        long last = e.Step / 2 * 2;
        Assert.Equal(last, steps.Max());
        Assert.Contains($"checkpoint (step {last})", e.Message);
        Assert.All(MetricsLog.ReadAll(run.Folder.Metrics), m =>
        {
            Assert.True(m.Step <= e.Step);
            Assert.True(double.IsFinite(m.Loss));
        });

        // The last good checkpoint loads and every float tensor in it is finite.
        var good = store.LoadLatest()!;
        Assert.Equal(last, good.Step);
        foreach (var (name, t) in good.Tensors)
            if (t.Type == DType.Float)
                Assert.True(t.Floats.All(float.IsFinite), $"checkpoint tensor {name} is not finite");
    }
}

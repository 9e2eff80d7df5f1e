using SemPPL.Tests.TestConfigs;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

/// <summary>
/// End to end with an onnx:&lt;path&gt; backbone: RunSetup.Prepare (graphgen writes the artifact set) and
/// SemPPLTrainer.Train for 5 steps on the embedded Fashion-MNIST subset, with the tiny_backbone.onnx
/// fixture (grey, any size; "features" = the value before its final linear layer) as the encoder.
/// </summary>
public sealed class OnnxBackboneTrainingTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "semppl-onnxbb-train-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    [Fact]
    public void Five_steps_train_with_finite_losses_and_move_the_files_parameters()
    {
        var config = Config(FixturePath("tiny_backbone.onnx"));
        var logs = new List<string>();
        var setup = RunSetup.Prepare(config, new RunFolder(_root), resume: false, logs.Add);
        Assert.Contains(setup.Manifest.Parameters, p => p.Name == "online.encoder.conv1.weight" && p.Kind == "ConvWeight");

        var result = SemPPLTrainer.Train(setup, new TrainingOptions { StopAtStep = 5, Log = logs.Add });

        Assert.Equal(5, result.StepsRun);
        Assert.Equal(5, result.Logged.Count);
        foreach (var m in result.Logged)
            foreach (var v in new[] { m.Loss, m.LossAugmentation, m.LossSemanticPositive, m.LossInvariance, m.LossClassifier })
                Assert.True(double.IsFinite(v), $"step {m.Step}: a loss is {v}");

        var initial = TensorFile.Read(Path.Combine(setup.Folder.Artifacts, setup.Manifest.InitialWeights));
        var latest = new CheckpointStore(setup.Folder.Root).LoadLatest();
        Assert.NotNull(latest);
        Assert.Equal(5, latest!.Step);
        // Every trainable encoder parameter of the file moved; so did the BN running statistics.
        foreach (var p in setup.Manifest.Parameters.Where(p => p.Head == "encoder"))
            Assert.False(initial[p.Name].Floats.SequenceEqual(latest[p.Name].Floats), $"{p.Name} did not change in 5 steps");
        foreach (var b in setup.Manifest.Buffers.Where(b => b.Name.StartsWith("online.encoder.", StringComparison.Ordinal)))
            Assert.False(initial[b.Name].Floats.SequenceEqual(latest[b.Name].Floats), $"{b.Name} did not change in 5 steps");
        // The target follows by EMA: it moved away from the initial weights too.
        Assert.False(initial["online.encoder.conv2.weight"].Floats.SequenceEqual(latest["target.encoder.conv2.weight"].Floats));
    }

    private static string FixturePath(string name)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "SemPPL.Ort.sln"))) d = d.Parent;
        Assert.True(d is not null, $"cannot find the repository root above {AppContext.BaseDirectory}");
        string path = Path.Combine(d!.FullName, "tests", "SemPPL.GraphGen.Tests", "Fixtures", name);
        Assert.True(File.Exists(path), $"fixture missing: {path}");
        return path;
    }

    /// <summary>The tiny config with the fixture as backbone: L = 2 large + S = 1 small 14 px view, B_u = 8, B_l = 4, 5 steps (checkpoint at step 5).</summary>
    private static SemPPLConfig Config(string onnxPath) => TinyConfig.Create(c =>
    {
        c.Name = "onnx-train";
        c.Seed = 1;
        c.Data.LabelsPerClass = 2;
        c.Data.MaxTrainImages = 0;
        c.Augment.SmallViews = 1;
        c.Augment.SmallSize = 14;
        c.Model.Backbone = "onnx:" + onnxPath;
        c.Model.OnnxInput = "images";
        c.Model.OnnxOutput = "features";
        c.Objective.Negatives = "4";
        c.Objective.QueueCapacity = "auto";
        c.Training.BatchUnlabelled = 8;
        c.Training.BatchLabelled = 4;
        c.Training.Steps = 5;
        c.Training.WarmupSteps = 1;
        c.Training.LogEvery = 1;
        c.Training.CheckpointEvery = 5;
        c.Training.KeepCheckpoints = 1;
    });
}

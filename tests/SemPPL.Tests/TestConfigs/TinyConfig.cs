using SemPPL.Config;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.TestConfigs;

/// <summary>
/// The smallest SemPPL config that still exercises every graph: ResNet-18 at width 1/16 with the small stem
/// (4-8-16-32 channels), projector/predictor 32 -> 16, B_u 16 + B_l 4, L = 2, on 2,000 images of the
/// built-in Fashion-MNIST subset (40 labelled). A step takes a few hundred ms on 2 shared cores.
/// </summary>
public static class TinyConfig
{
    public const string Yaml = """
        name: tiny
        seed: 0
        device: cpu
        data:
          dataset: fashion-mnist-embedded
          labels_per_class: 4
          max_train_images: 2000
          workers: 1
          prefetch: 2
        augment:
          large_views: 2
          small_views: 0
          large_size: 28
          channels: 1
          crop_area: [0.35, 1.0]
          saturation: 0.0
          hue: 0.0
          grayscale_probability: 0.0
          blur_probability: [0.0, 0.0]
          solarize_probability: [0.0, 0.0]
        model:
          backbone: resnet18
          stem: small
          width: 0.0625
          projector: { hidden: 32, out: 16 }
          predictor: { hidden: 32, out: 16 }
          num_classes: 10
        objective:
          negatives: 10
          queue_capacity: 100
        optimizer:
          name: lars
          base_lr: 1.0
          weight_decay: 1.0e-5
        training:
          batch_unlabelled: 16
          batch_labelled: 4
          steps: 20
          warmup_steps: 5
          ema_base: 0.99
          log_every: 5
          checkpoint_every: 10
          keep_checkpoints: 5
          eval_at_end: false
        eval:
          knn_k: 5
          linear_epochs: 5
          fine_tune_epochs: 1
          batch_size: 64
        """;

    /// <summary>The tiny config, optionally edited (validated by the trainer when it prepares the run).</summary>
    public static SemPPLConfig Create(Action<SemPPLConfig>? edit = null)
    {
        var c = ConfigLoader.FromYaml(Yaml, "tiny-config");
        edit?.Invoke(c);
        return c;
    }
}

/// <summary>A run folder under the temp directory, removed on dispose.</summary>
public sealed class TempRun : IDisposable
{
    public TempRun(string tag = "run")
    {
        Root = Path.Combine(Path.GetTempPath(), "semppl-tests", $"{tag}-{Guid.NewGuid():N}"[..(tag.Length + 13)]);
        Folder = new RunFolder(Root);
    }

    public string Root { get; }
    public RunFolder Folder { get; }

    /// <summary>Copies another run's artifact set here (same config: saves regenerating it).</summary>
    public void CopyArtifactsFrom(RunFolder other)
    {
        if (!Directory.Exists(other.Artifacts)) return;
        Directory.CreateDirectory(Folder.Artifacts);
        foreach (var f in Directory.GetFiles(other.Artifacts))
            File.Copy(f, Path.Combine(Folder.Artifacts, Path.GetFileName(f)), overwrite: true);
    }

    /// <summary>Copies another run's whole folder here (config, split, artifacts, checkpoints, metrics).</summary>
    public void CopyRunFrom(RunFolder other)
    {
        foreach (var dir in Directory.GetDirectories(other.Root, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(Root, Path.GetRelativePath(other.Root, dir)));
        Directory.CreateDirectory(Root);
        foreach (var f in Directory.GetFiles(other.Root, "*", SearchOption.AllDirectories))
            File.Copy(f, Path.Combine(Root, Path.GetRelativePath(other.Root, f)), overwrite: true);
    }

    /// <summary>Writes YAML (by default <see cref="TinyConfig.Yaml"/>) to a file next to the run folder, for the CLI's --config.</summary>
    public string WriteConfig(string? yaml = null)
    {
        string path = Root + ".yaml";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, yaml ?? TinyConfig.Yaml);
        return path;
    }

    public void Dispose()
    {
        try { if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true); } catch (IOException) { }
        try { File.Delete(Root + ".yaml"); } catch (IOException) { }
    }
}

/// <summary>Prepare + train in one call, collecting the log.</summary>
public static class TinyTraining
{
    public static (RunSetup Setup, TrainingResult Result) Run(SemPPLConfig config, RunFolder folder, bool resume = false,
        long? stopAtStep = null, List<string>? log = null)
    {
        Action<string> sink = log is null ? _ => { } : log.Add;
        var setup = RunSetup.Prepare(config, folder, resume, sink);
        var result = SemPPLTrainer.Train(setup, new TrainingOptions { Resume = resume, StopAtStep = stopAtStep, Log = sink });
        return (setup, result);
    }
}

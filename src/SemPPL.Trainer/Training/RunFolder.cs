using Checkpoints_ = SemPPL.Trainer.Checkpoints;

namespace SemPPL.Trainer.Training;

/// <summary>The files of one run (runs/&lt;name&gt;/ by default).</summary>
public sealed record RunFolder(string Root)
{
    public string Config => Path.Combine(Root, "config.yaml");
    public string Split => Path.Combine(Root, "split.json");
    public string Artifacts => Path.Combine(Root, "artifacts");
    /// <summary>Where CheckpointStore(Root) keeps its files.</summary>
    public string Checkpoints => Path.Combine(Root, Checkpoints_.CheckpointStore.FolderName);
    public string Metrics => Path.Combine(Root, "metrics.jsonl");
    public string Summary => Path.Combine(Root, "summary.json");
    public string Baseline => Path.Combine(Root, "baseline.json");
    /// <summary>Where TrainedModelStore(Root) keeps the networks evaluation and the baseline trained (for export).</summary>
    public string Models => Path.Combine(Root, SemPPL.Trainer.Export.TrainedModelStore.FolderName);
    public string LossPlot => Path.Combine(Root, "loss.png");
    public string AccuracyPlot => Path.Combine(Root, "accuracy.png");
    /// <summary>The file a process holds locked while it uses the folder (<see cref="RunFolderLock"/>); it stays after the process ends.</summary>
    public string LockFile => Path.Combine(Root, ".semppl.lock");

    public void Create() => Directory.CreateDirectory(Root);

    /// <summary>
    /// True when the folder holds (part of) an earlier run: its config, metrics, results or any file under
    /// checkpoints/ or models/. A split.json or an artifact set alone does not count (they are regenerated as needed).
    /// </summary>
    public bool HoldsRun =>
        File.Exists(Config) || File.Exists(Metrics) || File.Exists(Summary) || File.Exists(Baseline)
        || HasEntries(Checkpoints) || HasEntries(Models);

    private static bool HasEntries(string dir) => Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any();

    /// <summary>
    /// Removes an earlier run's outputs (config, split, metrics, results, plots, checkpoints, kept models) so a new run starts clean.
    /// The artifact set stays: it is checked against the new config's hash and regenerated when it does not match.
    /// </summary>
    public void ClearOutputs()
    {
        foreach (var f in new[] { Config, Split, Metrics, Summary, Baseline, LossPlot, AccuracyPlot })
            File.Delete(f);
        foreach (var dir in new[] { Checkpoints, Models })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}

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
    public string LossPlot => Path.Combine(Root, "loss.png");
    public string AccuracyPlot => Path.Combine(Root, "accuracy.png");

    public void Create() => Directory.CreateDirectory(Root);
}

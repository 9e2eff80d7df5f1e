using System.Globalization;
using SemPPL.Config;
using SemPPL.Trainer.Checkpoints;

namespace SemPPL.Trainer.Training;

/// <summary>
/// What may change when a run is resumed. A resumed run continues exactly because every batch and random tensor is a
/// function of (seed, step) and the schedules of (step, total steps); keys that enter those, the data or the graphs
/// must stay as the run's config.yaml has them. The others (where the run's files are, how it is logged, checkpointed
/// and evaluated, which device) may change and are reported.
/// </summary>
public static class ResumeCheck
{
    /// <summary>Keys that may differ on resume; a section name ("eval") stands for all its keys.</summary>
    public static readonly IReadOnlyList<string> FreeKeys =
    [
        "name", "device", "threads", "data.path", "data.test_path", "data.workers", "data.prefetch",
        "training.log_every", "training.checkpoint_every", "training.keep_checkpoints", "training.eval_at_end", "eval",
    ];

    public static bool IsFree(string path) =>
        FreeKeys.Any(k => path == k || path.StartsWith(k + ".", StringComparison.Ordinal));

    /// <summary>Refuses a config that differs from the run's config.yaml in a key outside <see cref="FreeKeys"/>; logs the free changes.</summary>
    public static void Config(RunFolder folder, SemPPLConfig config, Action<string> log)
    {
        if (!File.Exists(folder.Config)) return;
        var saved = ConfigLoader.Load(folder.Config);
        var changes = ConfigDiff.Between(saved, config);
        var refused = changes.Where(c => !IsFree(c.Path)).ToList();
        if (refused.Count > 0)
            throw new RunFolderConflictException(
                $"resume: the config differs from the run's {folder.Config} in {(refused.Count == 1 ? "a key that changes" : "keys that change")} what is computed " +
                $"({string.Join("; ", refused)}), so the resumed run would not continue the one that was started; " +
                "restore the run's values, or train into a new --out folder (--force starts this one over)");
        foreach (var c in changes) log($"resume: {c} (allowed: it does not change what is computed)");
    }

    /// <summary>Refuses a checkpoint written for another config hash, seed or run length (the same check without relying on config.yaml).</summary>
    public static void Checkpoint(Checkpoint checkpoint, string configHash, long seed, long totalSteps)
    {
        var meta = checkpoint.Metadata;
        if (meta.TryGetValue(SemPPLTrainer.MetaConfigHash, out var h) && h != configHash)
            throw new RunFolderConflictException(
                $"resume: checkpoint {checkpoint.Path} was written for config hash {h[..Math.Min(12, h.Length)]}, the config now hashes to {configHash[..12]} " +
                "(a key of model, objective, the views or the batch changed); train into a new --out folder or restore the old config");
        var changed = new List<string>();
        if (meta.TryGetValue(SemPPLTrainer.MetaSeed, out var s) && s != seed.ToString(CultureInfo.InvariantCulture)) changed.Add($"seed: {s} -> {seed}");
        if (meta.TryGetValue(SemPPLTrainer.MetaTotalSteps, out var t) && t != totalSteps.ToString(CultureInfo.InvariantCulture))
            changed.Add($"total steps: {t} -> {totalSteps}");
        if (changed.Count > 0)
            throw new RunFolderConflictException(
                $"resume: checkpoint {checkpoint.Path} was written by a run with other settings ({string.Join("; ", changed)}); " +
                "the resumed run would not continue it exactly; restore them, or train into a new --out folder");
    }
}

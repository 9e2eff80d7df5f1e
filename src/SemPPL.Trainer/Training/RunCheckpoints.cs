using SemPPL.Config;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.DataParallel;

namespace SemPPL.Trainer.Training;

/// <summary>
/// A run's checkpoints as the training loop sees them: where the run starts (the newest checkpoint on resume, else the
/// initial weights), when to save (every <c>checkpoint_every</c> steps and at the end), and the last good one.
/// </summary>
public sealed class RunCheckpoints
{
    public const string MetaConfigHash = "config_hash";
    public const string MetaSeed = "seed";
    public const string MetaTotalSteps = "total_steps";

    private readonly RunSetup _setup;
    private readonly CheckpointStore _store;
    private readonly TrainingJob? _job;
    private readonly ReplicaStatistics? _replicaStatistics;

    /// <param name="job">A data-parallel job: every rank averages its BatchNorm statistics at each checkpoint, rank 0 alone writes it.</param>
    public RunCheckpoints(RunSetup setup, Action<string> log, TrainingJob? job = null)
    {
        _setup = setup;
        _store = new CheckpointStore(setup.Folder.Root, setup.Config.Training.KeepCheckpoints, w => log($"warning: {w}"));
        _job = job;
        if (job is not null) _replicaStatistics = new ReplicaStatistics(setup.Manifest);
    }

    /// <summary>The step of the newest checkpoint written or loaded (what a divergence falls back to); null before any.</summary>
    public long? LastGood { get; private set; }

    /// <summary>Loads the starting state into <paramref name="graphs"/> and returns the first step to run.</summary>
    public long Restore(StepGraphs graphs, bool resume, Action<string> log)
    {
        var checkpoint = resume ? _setup.TakeResumeCheckpoint() ?? _store.LoadLatest() : null;
        if (resume && checkpoint is null) log("resume: no checkpoint found; starting from step 0");
        if (checkpoint is null)
        {
            graphs.LoadInitialWeights(_setup.Folder.Artifacts);
            return 0;
        }
        ResumeCheck.Checkpoint(checkpoint, _setup.Manifest.ConfigHash, _setup.Config.Seed, _setup.Resolved.TotalSteps);
        graphs.State.Restore(checkpoint.Step, checkpoint.Tensors);
        log($"resumed from {Path.GetFileName(checkpoint.Path)} at step {checkpoint.Step}");
        LastGood = checkpoint.Step;
        return checkpoint.Step;
    }

    /// <summary>Saves the state after step <paramref name="nextStep"/> - 1 when it is due (or <paramref name="force"/>, e.g. the last step).</summary>
    public void SaveIfDue(StepGraphs graphs, long nextStep, bool force)
    {
        if (nextStep % _setup.Config.Training.CheckpointEvery != 0 && !force) return;
        if (_job is not null) _replicaStatistics!.Average(graphs, _job.Communicators.Host);
        var meta = new Dictionary<string, string>
        {
            [MetaConfigHash] = _setup.Manifest.ConfigHash,
            [MetaSeed] = _setup.Config.Seed.ToString(),
            [MetaTotalSteps] = _setup.Resolved.TotalSteps.ToString(),
            // Batches and random tensors are pure functions of (seed, step): the step is the whole RNG and data-order state.
            ["data_position"] = nextStep.ToString(),
        };
        var tensors = graphs.State.Download();
        // A finite loss does not mean finite state (BN running statistics can overflow a step earlier):
        // never let a non-finite checkpoint replace the last good one.
        foreach (var (name, t) in tensors)
            if (t.Type == DType.Float && Array.FindIndex(t.Floats, v => !float.IsFinite(v)) is var i and >= 0)
                throw new TrainingDivergedException(nextStep - 1, name, t.Floats[i], LastGood);
        if (_job is null || _job.IsPrimary) _store.Save(nextStep, tensors, meta);
        LastGood = nextStep;
    }
}

namespace SemPPL.Trainer.Training;

/// <summary>How one `train` invocation runs (the config says what to train).</summary>
public sealed record TrainingOptions
{
    /// <summary>Continue from the newest checkpoint of the run folder.</summary>
    public bool Resume { get; init; }
    /// <summary>Stop (as if killed) after this many steps in total; for tests and time-boxed runs.</summary>
    public long? StopAtStep { get; init; }
    /// <summary>Checked after each step: when requested, the trainer writes a checkpoint of the step reached and returns (<see cref="TrainingResult.Interrupted"/>).</summary>
    public StopRequest? Stop { get; init; }
    /// <summary>This process's rank in a data-parallel job; null for one process (today's path, no collectives).</summary>
    public SemPPL.Trainer.DataParallel.TrainingJob? Job { get; init; }
    /// <summary>Collect per-graph timings of the step.</summary>
    public bool ProfileGraphs { get; init; }
    public Action<string> Log { get; init; } = _ => { };
    /// <summary>Called after every step with the latest metrics (the CLI draws its progress bar from it).</summary>
    public Action<TrainingProgress>? Progress { get; init; }
}

public sealed record TrainingProgress(long Step, long TotalSteps, double Epoch, StepMetrics Latest, TimeSpan Elapsed, TimeSpan Eta);

/// <summary>What a finished (or stopped) `train` reports.</summary>
public sealed record TrainingResult(long StepsRun, long FinalStep, StepMetrics? Last, double ImagesPerSecond, StepTimings? Timings,
    string DataSummary, IReadOnlyList<StepMetrics> Logged)
{
    /// <summary>Stopped by a <see cref="StopRequest"/> before the last step; a checkpoint of <see cref="FinalStep"/> was written.</summary>
    public bool Interrupted { get; init; }
}

/// <summary>A request, e.g. from a signal handler on another thread, that training stop at the end of the current step.</summary>
public sealed class StopRequest
{
    private volatile string? _reason;

    public bool IsRequested => _reason is not null;
    /// <summary>What asked to stop (e.g. "SIGTERM"); null until requested.</summary>
    public string? Reason => _reason;

    /// <summary>Returns true the first time (the request is new), false when a stop was already requested.</summary>
    public bool Request(string reason) => Interlocked.CompareExchange(ref _reason, reason, null) is null;
}

namespace SemPPL.Trainer.Training;

/// <summary>How one `train` invocation runs (the config says what to train).</summary>
public sealed record TrainingOptions
{
    /// <summary>Continue from the newest checkpoint of the run folder.</summary>
    public bool Resume { get; init; }
    /// <summary>Stop (as if killed) after this many steps in total; for tests and time-boxed runs.</summary>
    public long? StopAtStep { get; init; }
    /// <summary>Collect per-graph timings of the step.</summary>
    public bool ProfileGraphs { get; init; }
    public Action<string> Log { get; init; } = _ => { };
    /// <summary>Called after every step with the latest metrics (the CLI draws its progress bar from it).</summary>
    public Action<TrainingProgress>? Progress { get; init; }
}

public sealed record TrainingProgress(long Step, long TotalSteps, double Epoch, StepMetrics Latest, TimeSpan Elapsed, TimeSpan Eta);

/// <summary>What a finished (or stopped) `train` reports.</summary>
public sealed record TrainingResult(long StepsRun, long FinalStep, StepMetrics? Last, double ImagesPerSecond, StepTimings? Timings,
    string DataSummary, IReadOnlyList<StepMetrics> Logged);

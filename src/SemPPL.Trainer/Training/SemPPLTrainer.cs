using SemPPL.Data.Pipeline;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Training;

/// <summary>
/// The SemPPL training loop: stage the batch and schedules, run the step's graphs, check for divergence, record
/// metrics, checkpoint, report progress. Each concern is its own type (<see cref="StepInputs"/>,
/// <see cref="DivergenceCheck"/>, <see cref="MetricsWindow"/>, <see cref="RunCheckpoints"/>, <see cref="RunClock"/>).
/// Every random choice is a function of (seed, step), so a resumed run continues exactly where it stopped.
/// </summary>
public sealed class SemPPLTrainer
{
    public const string MetaConfigHash = RunCheckpoints.MetaConfigHash;
    public const string MetaSeed = RunCheckpoints.MetaSeed;
    public const string MetaTotalSteps = RunCheckpoints.MetaTotalSteps;

    public static TrainingResult Train(RunSetup setup, TrainingOptions options)
    {
        var config = setup.Config;
        var log = options.Log;
        using var factory = OpenDevice(config, log);
        using var graphs = new StepGraphs(factory, setup.Folder.Artifacts, setup.Manifest);
        var checkpoints = new RunCheckpoints(setup, log);
        long start = checkpoints.Restore(graphs, options.Resume, log);
        long end = Math.Min(setup.Resolved.TotalSteps, options.StopAtStep ?? long.MaxValue);

        using var pipeline = new BatchPipeline(setup.Data.Train, setup.Split, config.Augment, PipelineOptions.From(config), setup.Data.Diagnostics);
        var inputs = new StepInputs(graphs, config, setup.Resolved);
        var divergence = new DivergenceCheck(graphs);
        using var metrics = new MetricsWindow(graphs, setup.Folder.Metrics, start, config.Training.LogEvery, pipeline.StepsPerEpoch);
        var timings = options.ProfileGraphs ? new StepTimings(graphs.GraphNames) : null;
        var clock = new RunClock(setup.Resolved.TotalSteps, end);
        bool interrupted = false;

        foreach (var batch in pipeline.Stream(start, end))
        {
            using (batch)
            {
                long step = batch.Step;
                bool isLast = step + 1 == end;
                var schedule = inputs.Stage(batch);
                graphs.RunStep(timings);
                divergence.Check(step, checkpoints.LastGood);
                var latest = metrics.Record(batch, schedule, isLast);
                checkpoints.SaveIfDue(graphs, step + 1, force: isLast);
                var progress = clock.StepDone(step, latest);
                options.Progress?.Invoke(progress);
                if (options.Stop?.IsRequested == true && !isLast)
                {
                    if (checkpoints.LastGood != step + 1) checkpoints.SaveIfDue(graphs, step + 1, force: true);
                    interrupted = true;
                    break;
                }
            }
        }
        return new TrainingResult(clock.StepsRun, start + clock.StepsRun, metrics.Last, clock.ImagesPerSecond(setup.Manifest.Shapes.Batch),
            timings, setup.Data.Diagnostics.Summary(), metrics.Logged) { Interrupted = interrupted };
    }

    private static SessionFactory OpenDevice(SemPPL.Config.SemPPLConfig config, Action<string> log)
    {
        var factory = new SessionFactory(ExecutionDevice.Parse(config.Device), SessionSettings.ForRun(config.Threads), log);
        log($"device: {factory.Description}");
        if (!factory.IsCuda)
            log($"cpu: {factory.IntraOpThreads} ONNX Runtime thread{(factory.IntraOpThreads == 1 ? "" : "s")} (config key threads), convolutions " +
                (factory.LowersConvolutions ? $"on NCHWc kernels (block {NchwcSupport.BlockSize})" : "as written"));
        return factory;
    }
}

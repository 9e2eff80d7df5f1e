using SemPPL.Data.Pipeline;
using SemPPL.Trainer.DataParallel;
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
        var job = options.Job;
        using var factory = OpenDevice(config, log, job);
        using var graphs = new StepGraphs(factory, setup.Folder.Artifacts, setup.Manifest, job?.Communicators.Data);
        var checkpoints = new RunCheckpoints(setup, log, job);
        long start = checkpoints.Restore(graphs, options.Resume, log);
        long end = Math.Min(setup.Resolved.TotalSteps, options.StopAtStep ?? long.MaxValue);
        if (job is not null) StartCheck.Run(job, setup, graphs, start);

        var pipelineOptions = PipelineOptions.From(config) with { Rank = job?.Rank ?? 0, WorldSize = job?.WorldSize ?? 1 };
        using var pipeline = new BatchPipeline(setup.Data.Train, setup.Split, config.Augment, pipelineOptions, setup.Data.Diagnostics);
        var inputs = new StepInputs(graphs, config, setup.Resolved, pipelineOptions.Slice);
        var agreement = job is null ? null : new JobAgreement(graphs, job.Communicators.Host);
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
                bool stop = options.Stop?.IsRequested == true;
                PseudoLabelScore? jobPseudo = null;
                if (agreement is not null) (jobPseudo, stop) = agreement.Reduce(batch, stop);
                divergence.Check(step, checkpoints.LastGood);
                var latest = metrics.Record(batch, schedule, isLast, jobPseudo);
                checkpoints.SaveIfDue(graphs, step + 1, force: isLast);
                var progress = clock.StepDone(step, latest);
                options.Progress?.Invoke(progress);
                if (stop && !isLast)
                {
                    if (checkpoints.LastGood != step + 1) checkpoints.SaveIfDue(graphs, step + 1, force: true);
                    interrupted = true;
                    break;
                }
            }
        }
        // No rank leaves before rank 0 has written the last checkpoint (a launcher ends a job when any rank exits non-zero).
        job?.Communicators.Host.Barrier();
        return new TrainingResult(clock.StepsRun, start + clock.StepsRun, metrics.Last, clock.ImagesPerSecond(setup.Manifest.Shapes.GlobalBatch),
            timings, setup.Data.Diagnostics.Summary(), metrics.Logged) { Interrupted = interrupted };
    }

    /// <summary>The run's device; a rank of a job on CUDA takes device LOCAL_RANK (one GPU per rank on each machine).</summary>
    private static SessionFactory OpenDevice(SemPPL.Config.SemPPLConfig config, Action<string> log, TrainingJob? job)
    {
        var device = ExecutionDevice.Parse(config.Device);
        if (job is not null) device = device.ForRank(job.Launch);
        var factory = new SessionFactory(device, SessionSettings.ForRun(config.Threads), log);
        log($"device: {factory.Description}{(job is null ? "" : $" ({job})")}");
        if (!factory.IsCuda)
            log($"cpu: {factory.IntraOpThreads} ONNX Runtime thread{(factory.IntraOpThreads == 1 ? "" : "s")} (config key threads), convolutions " +
                (factory.LowersConvolutions ? $"on NCHWc kernels (block {NchwcSupport.BlockSize})" : "as written"));
        return factory;
    }
}

using System.Diagnostics;
using SemPPL.Config;
using SemPPL.Data.Pipeline;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Training;

/// <summary>
/// The SemPPL training loop: feeds batches and host-drawn random tensors to <see cref="StepGraphs"/>,
/// computes the learning-rate and EMA schedules, logs metrics, checkpoints atomically, and stops
/// on a NaN/infinite loss. Every random choice is a function of (seed, step), so a resumed run
/// continues exactly where it stopped.
/// </summary>
public sealed class SemPPLTrainer
{
    public const string MetaConfigHash = "config_hash";
    public const string MetaSeed = "seed";
    public const string MetaTotalSteps = "total_steps";

    public static TrainingResult Train(RunSetup setup, TrainingOptions options)
    {
        var config = setup.Config;
        var resolved = setup.Resolved;
        var log = options.Log;
        var shapes = setup.Manifest.Shapes;
        long totalSteps = resolved.TotalSteps;

        using var factory = new SessionFactory(ExecutionDevice.Parse(config.Device), SessionSettings.ForRun(config.Threads), log);
        log($"device: {factory.Description}");
        if (!factory.IsCuda)
            log($"cpu: {factory.IntraOpThreads} ONNX Runtime thread{(factory.IntraOpThreads == 1 ? "" : "s")} (config key threads), convolutions " +
                (factory.LowersConvolutions ? $"on NCHWc kernels (block {NchwcSupport.BlockSize})" : "as written"));
        using var graphs = new StepGraphs(factory, setup.Folder.Artifacts, setup.Manifest);
        var store = new CheckpointStore(setup.Folder.Root, config.Training.KeepCheckpoints, w => log($"warning: {w}"));

        long start = 0;
        var checkpoint = options.Resume ? store.LoadLatest() : null;
        if (options.Resume && checkpoint is null) log("resume: no checkpoint found; starting from step 0");
        if (checkpoint is not null)
        {
            if (checkpoint.Metadata.TryGetValue(MetaConfigHash, out var h) && h != setup.Manifest.ConfigHash)
                throw new ConfigException($"resume: checkpoint {checkpoint.Path} was written for config hash {h[..12]}, the config now hashes to {setup.Manifest.ConfigHash[..12]}; " +
                                          "train into a new --out folder or restore the old config");
            graphs.State.Restore(checkpoint.Step, checkpoint.Tensors);
            start = checkpoint.Step;
            log($"resumed from {Path.GetFileName(checkpoint.Path)} at step {start}");
        }
        else
            graphs.LoadInitialWeights(setup.Folder.Artifacts);
        long? lastCheckpoint = checkpoint?.Step;

        using var pipeline = new BatchPipeline(setup.Data.Train, setup.Split, config.Augment, PipelineOptions.From(config), setup.Data.Diagnostics);
        var randomness = new StepRandomness(config.Seed, shapes.LargeViews, shapes.Batch, shapes.Negatives, shapes.SemanticPositives);
        using var metrics = new MetricsLog(setup.Folder.Metrics, truncateAfterStep: start - 1);
        var timings = options.ProfileGraphs ? new StepTimings(graphs.GraphNames) : null;
        var logged = new List<StepMetrics>();
        // The parts first, so a divergence names the term that broke rather than the total (ordered once, not per step).
        var checkOrder = graphs.LossResults.OrderBy(r => r.Role == HostRole.Loss ? 1 : 0).ToArray();

        long end = Math.Min(totalSteps, options.StopAtStep ?? long.MaxValue);
        double peakLr = resolved.LearningRate;
        var sw = Stopwatch.StartNew();
        var windowClock = Stopwatch.StartNew();
        long windowImages = 0, pseudoCorrect = 0, pseudoKnown = 0, stepsRun = 0;
        StepMetrics? last = null;

        foreach (var batch in pipeline.Stream(start, end))
        {
            long step = batch.Step;
            using (batch)
            {
                batch.Large.AsSpan().CopyTo(graphs.ViewsLarge.HostSpan<float>());
                if (graphs.ViewsSmall is { } small) batch.Small.AsSpan().CopyTo(small.HostSpan<float>());
                batch.Labels.AsSpan().CopyTo(graphs.Labels.HostSpan<long>());
                randomness.Fill(step);
                randomness.Negatives.AsSpan().CopyTo(graphs.NegativeIndices.HostSpan<long>());
                randomness.Uniforms.AsSpan().CopyTo(graphs.UniformDraws.HostSpan<float>());
                double lr = Schedules.LearningRate(step, totalSteps, resolved.WarmupSteps, peakLr);
                double tau = Schedules.EmaDecay(step, totalSteps, config.Training.EmaBase);
                graphs.LearningRate.HostSpan<float>()[0] = (float)lr;
                if (graphs.OptimizerStep is { } optimizerStep) optimizerStep.HostSpan<float>()[0] = step + 1;
                graphs.EmaDecay.HostSpan<float>()[0] = (float)tau;

                graphs.RunStep(timings);

                foreach (var (name, role) in checkOrder)
                {
                    float v = graphs.Tensors[role].HostSpan<float>()[0];
                    if (!float.IsFinite(v)) throw new TrainingDivergedException(step, name, v, lastCheckpoint);
                }
                var pseudo = graphs.PseudoLabels.HostSpan<long>();
                for (int i = 0; i < pseudo.Length; i++)
                {
                    long truth = batch.UnlabelledTrueLabels[i];
                    if (truth < 0) continue;
                    pseudoKnown++;
                    if (pseudo[i] == truth) pseudoCorrect++;
                }
                windowImages += shapes.Batch;
                stepsRun++;

                last = new StepMetrics
                {
                    Step = step,
                    Epoch = (double)(step + 1) / pipeline.StepsPerEpoch,
                    Lr = lr,
                    Ema = tau,
                    Loss = graphs.Result(HostRole.Loss),
                    LossAugmentation = graphs.Result(HostRole.LossAugmentation),
                    LossSemanticPositive = graphs.Result(HostRole.LossSemanticPositive),
                    LossInvariance = graphs.Result(HostRole.LossInvariance),
                    LossClassifier = graphs.Result(HostRole.LossClassifier),
                    ClassifierAccuracy = graphs.Result(HostRole.ClassifierAccuracy),
                    PseudoLabelAccuracy = pseudoKnown > 0 ? (double)pseudoCorrect / pseudoKnown : null,
                    ImagesPerSecond = windowImages / Math.Max(1e-9, windowClock.Elapsed.TotalSeconds),
                };
                bool isLast = step + 1 == end;
                if ((step + 1) % config.Training.LogEvery == 0 || isLast)
                {
                    metrics.Write(last);
                    logged.Add(last);
                    windowImages = 0; pseudoCorrect = 0; pseudoKnown = 0;
                    windowClock.Restart();
                }
                if ((step + 1) % config.Training.CheckpointEvery == 0 || isLast)
                {
                    SaveCheckpoint(store, graphs, step + 1, setup, totalSteps, lastCheckpoint);
                    lastCheckpoint = step + 1;
                }
                if (options.Progress is { } progress)
                {
                    double perStep = sw.Elapsed.TotalSeconds / stepsRun;
                    progress(new TrainingProgress(step + 1, totalSteps, last.Epoch, last, sw.Elapsed, TimeSpan.FromSeconds(perStep * (end - step - 1))));
                }
            }
        }
        double imagesPerSecond = stepsRun * shapes.Batch / Math.Max(1e-9, sw.Elapsed.TotalSeconds);
        return new TrainingResult(stepsRun, start + stepsRun, last, imagesPerSecond, timings, setup.Data.Diagnostics.Summary(), logged);
    }

    private static void SaveCheckpoint(CheckpointStore store, StepGraphs graphs, long nextStep, RunSetup setup, long totalSteps, long? lastGood)
    {
        var meta = new Dictionary<string, string>
        {
            [MetaConfigHash] = setup.Manifest.ConfigHash,
            [MetaSeed] = setup.Config.Seed.ToString(),
            [MetaTotalSteps] = totalSteps.ToString(),
            // Batches and random tensors are pure functions of (seed, step): the step is the whole RNG and data-order state.
            ["data_position"] = nextStep.ToString(),
        };
        var tensors = graphs.State.Download();
        // A finite loss does not mean finite state (BN running statistics can overflow a step earlier):
        // never let a non-finite checkpoint replace the last good one.
        foreach (var (name, t) in tensors)
            if (t.Type == DType.Float && Array.FindIndex(t.Floats, v => !float.IsFinite(v)) is var i and >= 0)
                throw new TrainingDivergedException(nextStep - 1, name, t.Floats[i], lastGood);
        store.Save(nextStep, tensors, meta);
    }
}

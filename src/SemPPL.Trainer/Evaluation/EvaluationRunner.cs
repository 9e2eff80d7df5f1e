using System.Text.Json;
using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Splits;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Export;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.Evaluation;

/// <summary>summary.json of `semppl eval`.</summary>
public sealed record EvaluationSummary
{
    public double KnnTop1 { get; init; }
    public double KnnTop5 { get; init; }
    public double LinearTop1 { get; init; }
    public double LinearTop5 { get; init; }
    public double FineTuneTop1 { get; init; }
    public double FineTuneTop5 { get; init; }
    /// <summary>The online linear classifier as trained alongside SemPPL (before fine-tuning).</summary>
    public double OnlineClassifierTop1 { get; init; }
    public long CheckpointStep { get; init; }
    public int LabelledImages { get; init; }
    public int TestImages { get; init; }
    public required Dictionary<string, object> Settings { get; init; }
}

/// <summary>The paper's evaluations of a trained run: k-NN, linear probe, fine-tuning; all on the test split.</summary>
public static class EvaluationRunner
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static EvaluationSummary Run(RunFolder folder, string? deviceOverride, Action<string> log, IReadOnlyList<string>? evalOverrides = null)
    {
        var context = EvaluationContext.Open(folder, deviceOverride, log, evalOverrides);
        using var factory = context.Factory;
        var store = new CheckpointStore(folder.Root, context.Config.Training.KeepCheckpoints, w => log($"warning: {w}"));
        var checkpoint = store.LoadLatest() ?? throw new FileNotFoundException($"eval: no checkpoint in {folder.Checkpoints}; train first");
        var weights = checkpoint.Tensors.Where(t => context.EvalGraph.ReadsState(t.Name))
            .ToDictionary(t => t.Name, t => t.Tensor);
        var models = new TrainedModelStore(folder.Root);
        var summary = Evaluate(context, weights, log, m => log($"kept {m.Head.Describe()} in {models.Save(m with { CheckpointStep = checkpoint.Step })}"))
            with { CheckpointStep = checkpoint.Step };
        File.WriteAllText(folder.Summary, JsonSerializer.Serialize(summary, Json));
        return summary;
    }

    /// <param name="keep">Receives the fine-tuned network and the linear-probe model (weights and test accuracy) for export.</param>
    public static EvaluationSummary Evaluate(EvaluationContext c, IReadOnlyDictionary<string, HostTensor> weights, Action<string> log,
        Action<TrainedModel>? keep = null)
    {
        var cfg = c.Config;
        var e = cfg.Eval;
        using var extractor = new EmbeddingExtractor(c.Factory, c.EvalGraph, weights, Math.Min(e.BatchSize, 256), c.Loader.ImageShape);
        var (bank, _) = extractor.Run(c.Loader, c.LabelledIndices);
        var (test, testLogits) = extractor.Run(c.TestLoader, c.TestIndices);
        var online = Accuracy.FromLogits(testLogits, (int)extractor.NumClasses, c.TestLabels);
        log($"embedded {c.LabelledIndices.Count} labelled and {c.TestIndices.Count} test images ({extractor.FeatureDim} features)");

        var knn = KnnEvaluator.Evaluate(c.Factory, bank, c.LabelledLabels, test, c.TestLabels, extractor.FeatureDim, e.KnnK, (float)e.KnnTemperature, cfg.Model.NumClasses);
        log($"k-NN (k={e.KnnK}) top-1 {knn.Top1:P2}");
        var linear = LinearProbe.TrainAndEvaluate(c.Factory, bank, c.LabelledLabels, test, c.TestLabels, extractor.FeatureDim, cfg.Model.NumClasses, e.LinearEpochs, e.LinearLr);
        log($"linear probe top-1 {linear.Top1:P2}");
        keep?.Invoke(new TrainedModel(ModelHead.Linear,
            new Dictionary<string, HostTensor>(weights) { [ArtifactNames.ProbeWeight] = linear.Weight, [ArtifactNames.ProbeBias] = linear.Bias },
            linear.Top1, linear.Top5, c.TestIndices.Count, 0, c.Manifest.ConfigHash));

        var ft = FineTuneSettingsFor(cfg, c.LabelledIndices.Count);
        var tuned = FineTuner.Run(c.Factory, cfg, c.Loader, c.LabelledIndices, c.LabelledLabels, weights, ft);
        extractor.SetWeights(tuned);
        var (_, tunedLogits) = extractor.Run(c.TestLoader, c.TestIndices);
        var fine = Accuracy.FromLogits(tunedLogits, (int)extractor.NumClasses, c.TestLabels);
        log($"fine-tune ({ft.Steps} steps) top-1 {fine.Top1:P2}");
        keep?.Invoke(new TrainedModel(ModelHead.FineTune, Overlay(weights, tuned), fine.Top1, fine.Top5, c.TestIndices.Count, 0, c.Manifest.ConfigHash));

        return new EvaluationSummary
        {
            KnnTop1 = knn.Top1, KnnTop5 = knn.Top5,
            LinearTop1 = linear.Top1, LinearTop5 = linear.Top5,
            FineTuneTop1 = fine.Top1, FineTuneTop5 = fine.Top5,
            OnlineClassifierTop1 = online.Top1,
            LabelledImages = c.LabelledIndices.Count,
            TestImages = c.TestIndices.Count,
            Settings = new Dictionary<string, object>
            {
                ["knnK"] = e.KnnK, ["knnTemperature"] = e.KnnTemperature,
                ["linearEpochs"] = e.LinearEpochs, ["linearLr"] = e.LinearLr,
                ["fineTuneSteps"] = ft.Steps, ["fineTuneBatch"] = ft.Batch, ["fineTuneLr"] = ft.Lr,
                ["fineTuneMomentum"] = ft.Momentum, ["fineTuneWeightDecay"] = ft.WeightDecay,
                ["device"] = c.Factory.Description,
            },
        };
    }

    /// <summary>
    /// <paramref name="baseWeights"/> with the values of <paramref name="changed"/> that it names written over them (eval.onnx also
    /// reads weights fine-tuning leaves alone, e.g. the projector; the optimizer's own state is left out).
    /// </summary>
    public static Dictionary<string, HostTensor> Overlay(IReadOnlyDictionary<string, HostTensor> baseWeights, IReadOnlyDictionary<string, HostTensor> changed)
    {
        var all = new Dictionary<string, HostTensor>(baseWeights, StringComparer.Ordinal);
        foreach (var (name, t) in changed)
            if (all.ContainsKey(name)) all[name] = t;
        return all;
    }

    public static FineTuneSettings FineTuneSettingsFor(SemPPLConfig cfg, int labelled)
    {
        int batch = Math.Min(cfg.Eval.BatchSize, labelled);
        int perEpoch = Math.Max(1, labelled / batch);
        return new FineTuneSettings(Math.Max(1, cfg.Eval.FineTuneEpochs * perEpoch), batch, cfg.Eval.FineTuneLr);
    }
}

/// <summary>What evaluation and the baseline share: the run's config, data, split, loaders and device.</summary>
public sealed class EvaluationContext
{
    public required SemPPLConfig Config { get; init; }
    public required SessionFactory Factory { get; init; }
    public required ArtifactGraph EvalGraph { get; init; }
    public required string ArtifactDir { get; init; }
    public required ImageBatchLoader Loader { get; init; }
    public required ImageBatchLoader TestLoader { get; init; }
    public required IReadOnlyList<int> LabelledIndices { get; init; }
    public required IReadOnlyList<int> LabelledLabels { get; init; }
    public required IReadOnlyList<int> TestIndices { get; init; }
    public required IReadOnlyList<int> TestLabels { get; init; }
    public required Manifest Manifest { get; init; }
    /// <summary>The per-channel normalisation the run trained with (computed from its training set unless augment.mean/std are set).</summary>
    public required double[] Mean { get; init; }
    public required double[] Std { get; init; }
    /// <summary>The training set's class names, in label order.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>Throws unless the folder holds a run's config (checked before a lock file would be created in a wrong folder).</summary>
    public static void RequireRunFolder(RunFolder folder)
    {
        if (!File.Exists(folder.Config)) throw new FileNotFoundException($"{folder.Root} is not a run folder (no config.yaml); give --run runs/<name>");
    }

    /// <param name="evalOverrides">`eval.key=value` overrides; other sections are fixed by the trained run.</param>
    public static EvaluationContext Open(RunFolder folder, string? deviceOverride, Action<string> log, IReadOnlyList<string>? evalOverrides = null)
    {
        RequireRunFolder(folder);
        foreach (var o in evalOverrides ?? [])
            if (!o.StartsWith("eval.", StringComparison.Ordinal))
                throw new ConfigException($"--set '{o}': eval can only override eval.* keys; the other sections are fixed by the trained run");
        var cfg = ConfigOverrides.Load(folder.Config, evalOverrides ?? []);
        ConfigValidator.Validate(cfg, folder.Config);
        if (deviceOverride is not null) cfg.Device = deviceOverride;
        ConfigValidator.CheckPaths(cfg);
        var data = DatasetFactory.Open(cfg.Data, cfg.Augment.Channels, cfg.Seed);
        var test = data.Test ?? throw new ConfigException("data.test_path: evaluation needs a test split; set data.test_path for folder data sets");
        var split = LabelledSplit.Load(folder.Split, data.Train);
        // The evaluation graphs do not depend on the world size: a data-parallel run's set serves as it is.
        var manifest = RunSetup.EnsureArtifacts(cfg, split.Count, folder.Artifacts, log, worldSize: null);
        var (mean, std) = ImageBatchLoader.Normalisation(data.Train, split, cfg);
        var factory = new SessionFactory(ExecutionDevice.Parse(cfg.Device), SessionSettings.ForRun(cfg.Threads), log);
        return new EvaluationContext
        {
            Config = cfg,
            Factory = factory,
            ArtifactDir = folder.Artifacts,
            EvalGraph = ArtifactGraph.Of(folder.Artifacts, manifest, GraphRole.Eval),
            Loader = new ImageBatchLoader(data.Train, cfg.Augment, mean, std, cfg.Seed),
            TestLoader = new ImageBatchLoader(test, cfg.Augment, mean, std, cfg.Seed),
            LabelledIndices = split.Indices,
            LabelledLabels = split.Indices.Select(data.Train.GetLabel).ToList(),
            TestIndices = Enumerable.Range(0, test.Count).ToList(),
            TestLabels = Enumerable.Range(0, test.Count).Select(test.GetLabel).ToList(),
            Manifest = manifest,
            Mean = mean,
            Std = std,
            ClassNames = data.Train.ClassNames,
        };
    }
}

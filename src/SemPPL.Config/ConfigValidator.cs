using System.Globalization;
using System.Text.RegularExpressions;

namespace SemPPL.Config;

/// <summary>
/// Validates a whole <see cref="SemPPLConfig"/> up front. <see cref="Validate"/> checks every key's value and
/// the rules between keys, and throws one <see cref="ConfigException"/> listing ALL problems, each naming the
/// key, the bad value and what is allowed. It touches no file: file existence is the separate
/// <see cref="CheckPaths"/> step, which the trainer calls before it reads data (so shipped configs validate
/// on a machine without the user's data).
/// </summary>
public static partial class ConfigValidator
{
    public static readonly IReadOnlyList<string> KnownDatasets =
        ["fashion-mnist-embedded", "fashion-mnist", "idx", "cifar10", "cifar100", "folder"];


    /// <summary>Where the Debian package dataset-fashion-mnist installs the IDX files; the default data.path of dataset fashion-mnist.</summary>
    public const string DebianFashionMnistPath = "/usr/share/datasets/fashion-mnist";

    /// <summary>Number of classes of the data sets whose class count is fixed.</summary>
    public static int? ClassesOf(string dataset) => dataset switch
    {
        "fashion-mnist-embedded" or "fashion-mnist" or "cifar10" => 10,
        "cifar100" => 100,
        _ => null,
    };

    /// <summary>True when the data set reads from a user path (data.path is required).</summary>
    public static bool DatasetNeedsPath(string dataset) => dataset is "idx" or "cifar10" or "cifar100" or "folder";

    [GeneratedRegex(@"^[A-Za-z0-9._-]+$")]
    private static partial Regex NameRegex();

    /// <summary>Throws <see cref="ConfigException"/> listing every problem; returns normally when the config is valid.</summary>
    public static void Validate(SemPPLConfig config, string? source = null)
    {
        var problems = Problems(config);
        if (problems.Count > 0) throw new ConfigException(problems, source);
    }

    /// <summary>Every problem of the config (empty when valid), without throwing.</summary>
    public static IReadOnlyList<string> Problems(SemPPLConfig config)
    {
        var p = new List<string>();
        if (config is null) { p.Add("config: null"); return p; }
        void Null(string path) => p.Add($"{path}: a section must not be null");
        if (config.Data is null) Null("data");
        if (config.Augment is null) Null("augment");
        if (config.Model is null) Null("model");
        if (config.Model is not null && config.Model.Projector is null) Null("model.projector");
        if (config.Model is not null && config.Model.Predictor is null) Null("model.predictor");
        if (config.Objective is null) Null("objective");
        if (config.Optimizer is null) Null("optimizer");
        if (config.Training is null) Null("training");
        if (config.Eval is null) Null("eval");
        if (p.Count > 0) return p;

        // top level
        if (string.IsNullOrEmpty(config.Name) || !NameRegex().IsMatch(config.Name))
            p.Add($"name: '{config.Name}' must be non-empty and use only letters, digits, '.', '_' and '-' (it names output folders)");
        if (config.Seed < 0) p.Add($"seed: {config.Seed} must be an integer >= 0");
        if (!DeviceSyntax.TryParse(config.Device, out _, out _))
            p.Add($"device: '{config.Device}' is not one of {DeviceSyntax.Allowed}");
        if (config.Threads < 0)
            p.Add($"threads: {config.Threads} must be >= 0 (0 = auto: the processor count)");

        ValidateData(config, p);
        ValidateAugment(config, p);
        ValidateModel(config, p);
        ValidateObjective(config, p);
        ValidateOptimizer(config.Optimizer!, p);
        ValidateTraining(config.Training!, p);
        ValidateEval(config.Eval!, p);
        return p;
    }

    /// <summary>
    /// Checks that the files and folders the config names exist: data.path (required for idx, cifar10,
    /// cifar100, folder; for fashion-mnist the Debian path when unset), data.test_path, data.label_file, and
    /// the file of an onnx: backbone. Throws one <see cref="ConfigException"/> listing every missing path.
    /// </summary>
    public static void CheckPaths(SemPPLConfig config, string? source = null)
    {
        var p = new List<string>();
        var d = config.Data;
        var dataPath = d.Path ?? (d.Dataset == "fashion-mnist" ? DebianFashionMnistPath : null);
        if (dataPath is not null && d.Dataset != "fashion-mnist-embedded" && !Exists(dataPath))
            p.Add($"data.path: '{dataPath}' does not exist" + (d.Dataset == "fashion-mnist" ? " (install the Debian package dataset-fashion-mnist, or set data.path)" : ""));
        if (d.TestPath is not null && !Exists(d.TestPath)) p.Add($"data.test_path: '{d.TestPath}' does not exist");
        if (d.LabelFile is not null && !File.Exists(d.LabelFile)) p.Add($"data.label_file: '{d.LabelFile}' is not an existing file");
        var b = config.Model.Backbone ?? "";
        if (b.StartsWith(KnownNames.OnnxBackbonePrefix, StringComparison.Ordinal))
        {
            var f = b[KnownNames.OnnxBackbonePrefix.Length..];
            if (!File.Exists(f)) p.Add($"model.backbone: '{b}': the ONNX file '{f}' does not exist");
        }
        if (p.Count > 0) throw new ConfigException(p, source);
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    private static string F(double v) => ConfigLoader.FormatNumber(v);
    private static string L(double[]? a) => a is null ? "null" : "[" + string.Join(", ", a.Select(F)) + "]";

    private static void Prob(List<string> p, string key, double v)
    {
        if (!(v >= 0 && v <= 1)) p.Add($"{key}: {F(v)} must be a probability in [0, 1]");
    }
    private static void Positive(List<string> p, string key, double v)
    {
        if (!(v > 0) || !double.IsFinite(v)) p.Add($"{key}: {F(v)} must be a number > 0");
    }
    private static void NonNegative(List<string> p, string key, double v)
    {
        if (!(v >= 0) || !double.IsFinite(v)) p.Add($"{key}: {F(v)} must be a number >= 0");
    }
    private static void AtLeast(List<string> p, string key, long v, long min)
    {
        if (v < min) p.Add($"{key}: {v} must be an integer >= {min}");
    }
    private static void OneOf(List<string> p, string key, string? v, IReadOnlyList<string> allowed)
    {
        if (v is null || !allowed.Contains(v)) p.Add($"{key}: '{v}' is not one of {string.Join(", ", allowed)}");
    }
    private static void Range(List<string> p, string key, double[]? v, bool upToOne, string what)
    {
        if (v is null || v.Length != 2 || !(v[0] > 0) || !(v[0] <= v[1]) || (upToOne && !(v[1] <= 1)) || !double.IsFinite(v[1]))
            p.Add($"{key}: {L(v)} must be two numbers with {what}");
    }
    private static void ProbPair(List<string> p, string key, double[]? v)
    {
        if (v is null || v.Length != 2 || v.Any(x => !(x >= 0 && x <= 1)))
            p.Add($"{key}: {L(v)} must be two probabilities in [0, 1] (view 1, view 2)");
    }

    private static void ValidateData(SemPPLConfig c, List<string> p)
    {
        var d = c.Data;
        OneOf(p, "data.dataset", d.Dataset, KnownDatasets);
        if (d.Dataset is not null && DatasetNeedsPath(d.Dataset) && string.IsNullOrWhiteSpace(d.Path))
            p.Add($"data.path: '{d.Path}' is required for dataset '{d.Dataset}' (the folder or file of the training data)");
        if (d.Dataset == "fashion-mnist-embedded" && d.Path is not null)
            p.Add($"data.path: '{d.Path}' must not be set for dataset fashion-mnist-embedded (its data is built in); use dataset fashion-mnist or idx to read files");
        if (d.Path is not null && d.Path.Trim().Length == 0) p.Add("data.path: '' must be null or a path");
        if (d.TestPath is not null && d.TestPath.Trim().Length == 0) p.Add("data.test_path: '' must be null or a path");

        var set = new List<string>();
        if (d.LabelsPerClass is not null) set.Add($"labels_per_class ({d.LabelsPerClass})");
        if (d.LabelFraction is not null) set.Add($"label_fraction ({F(d.LabelFraction.Value)})");
        if (d.LabelFile is not null) set.Add($"label_file ('{d.LabelFile}')");
        if (set.Count != 1)
            p.Add($"data: exactly one of labels_per_class, label_fraction, label_file must be set; " +
                  (set.Count == 0 ? "none is" : $"got {string.Join(", ", set)}"));
        if (d.LabelsPerClass is { } lpc && lpc < 1) p.Add($"data.labels_per_class: {lpc} must be an integer >= 1");
        if (d.LabelFraction is { } lf && !(lf > 0 && lf <= 1)) p.Add($"data.label_fraction: {F(lf)} must be a fraction in (0, 1]");
        if (d.LabelFile is not null && d.LabelFile.Trim().Length == 0) p.Add("data.label_file: '' must be null or the path of a subset file");

        AtLeast(p, "data.max_train_images", d.MaxTrainImages, 0);
        AtLeast(p, "data.workers", d.Workers, 0);
        AtLeast(p, "data.prefetch", d.Prefetch, 1);
        AtLeast(p, "data.max_pixels", d.MaxPixels, 1);
        if (d.Dataset is not null && ClassesOf(d.Dataset) is { } n && c.Model is not null && c.Model.NumClasses != n)
            p.Add($"model.num_classes: {c.Model.NumClasses} does not match dataset '{d.Dataset}', which has {n} classes");
        if (d.LabelsPerClass is { } lpc2 && d.MaxTrainImages > 0 && c.Model is not null && (long)lpc2 * c.Model.NumClasses > d.MaxTrainImages)
            p.Add($"data.labels_per_class: {lpc2} x {c.Model.NumClasses} classes exceeds data.max_train_images ({d.MaxTrainImages})");
    }

    private static void ValidateAugment(SemPPLConfig c, List<string> p)
    {
        var a = c.Augment;
        AtLeast(p, "augment.large_views", a.LargeViews, 1);
        AtLeast(p, "augment.small_views", a.SmallViews, 0);
        if (a.LargeViews == 1 && c.Objective is not null && c.Objective.Lambda > 0)
            p.Add($"augment.large_views: 1 leaves no pair of large views for the invariance term; use >= 2, or objective.lambda 0");
        else if (a.LargeViews >= 1 && a.SmallViews >= 0 && a.LargeViews + a.SmallViews < 2)
            p.Add($"augment.large_views: {a.LargeViews} with small_views {a.SmallViews}: need at least 2 views in all");
        AtLeast(p, "augment.large_size", a.LargeSize, 1);
        AtLeast(p, "augment.small_size", a.SmallSize, 1);
        if (a.SmallViews > 0 && a.SmallSize > a.LargeSize)
            p.Add($"augment.small_size: {a.SmallSize} must be <= augment.large_size ({a.LargeSize})");
        if (a.Channels is not (1 or 3)) p.Add($"augment.channels: {a.Channels} is not one of 1 (grey), 3 (RGB)");
        Range(p, "augment.crop_area", a.CropArea, true, "0 < min <= max <= 1");
        Range(p, "augment.small_crop_area", a.SmallCropArea, true, "0 < min <= max <= 1");
        Range(p, "augment.crop_aspect", a.CropAspect, false, "0 < min <= max");
        Prob(p, "augment.flip_probability", a.FlipProbability);
        NonNegative(p, "augment.brightness", a.Brightness);
        NonNegative(p, "augment.contrast", a.Contrast);
        NonNegative(p, "augment.saturation", a.Saturation);
        if (!(a.Hue >= 0 && a.Hue <= 0.5)) p.Add($"augment.hue: {F(a.Hue)} must be a number in [0, 0.5]");
        Prob(p, "augment.color_jitter_probability", a.ColorJitterProbability);
        Prob(p, "augment.grayscale_probability", a.GrayscaleProbability);
        ProbPair(p, "augment.blur_probability", a.BlurProbability);
        Range(p, "augment.blur_sigma", a.BlurSigma, false, "0 < min <= max");
        ProbPair(p, "augment.solarize_probability", a.SolarizeProbability);
        if (a.Mean is not null && (a.Mean.Length != a.Channels || a.Mean.Any(x => !double.IsFinite(x))))
            p.Add($"augment.mean: {L(a.Mean)} must be null or {a.Channels} finite numbers (one per channel)");
        if (a.Std is not null && (a.Std.Length != a.Channels || a.Std.Any(x => !(x > 0) || !double.IsFinite(x))))
            p.Add($"augment.std: {L(a.Std)} must be null or {a.Channels} numbers > 0 (one per channel)");
        if ((a.Mean is null) != (a.Std is null))
            p.Add($"augment.mean/std: mean {L(a.Mean)} and std {L(a.Std)} must be both set or both null");
    }

    private static void ValidateModel(SemPPLConfig c, List<string> p)
    {
        var m = c.Model;
        var b = m.Backbone ?? "";
        var isOnnx = b.StartsWith(KnownNames.OnnxBackbonePrefix, StringComparison.Ordinal);
        if (isOnnx)
        {
            if (b.Length == KnownNames.OnnxBackbonePrefix.Length)
                p.Add($"model.backbone: '{b}' needs a file path after 'onnx:' (onnx:<path>)");
            if (string.IsNullOrWhiteSpace(m.OnnxInput)) p.Add($"model.onnx_input: '{m.OnnxInput}' is required with an onnx: backbone (the name of the image input in the file)");
            if (string.IsNullOrWhiteSpace(m.OnnxOutput)) p.Add($"model.onnx_output: '{m.OnnxOutput}' is required with an onnx: backbone (the name of the feature output in the file)");
        }
        else
        {
            if (!KnownNames.Backbones.Contains(b))
                p.Add($"model.backbone: '{m.Backbone}' is not a known backbone; known: {string.Join(", ", KnownNames.Backbones)}, onnx:<path>");
            if (m.OnnxInput is not null) p.Add($"model.onnx_input: '{m.OnnxInput}' is only allowed with an onnx:<path> backbone");
            if (m.OnnxOutput is not null) p.Add($"model.onnx_output: '{m.OnnxOutput}' is only allowed with an onnx:<path> backbone");
        }
        if (!(m.Width > 0 && m.Width <= 16 && m.Width * 64 >= 1))
            p.Add($"model.width: {F(m.Width)} must be a number in [1/64, 16] (e.g. 0.25, 0.5, 1, 2, 4)");
        OneOf(p, "model.stem", m.Stem, KnownNames.Stems);
        AtLeast(p, "model.projector.hidden", m.Projector.Hidden, 1);
        AtLeast(p, "model.projector.out", m.Projector.Out, 1);
        AtLeast(p, "model.predictor.hidden", m.Predictor.Hidden, 1);
        AtLeast(p, "model.predictor.out", m.Predictor.Out, 1);
        if (m.Predictor.Out != m.Projector.Out)
            p.Add($"model.predictor.out: {m.Predictor.Out} must equal model.projector.out ({m.Projector.Out}): predictions are compared with target projections");
        AtLeast(p, "model.num_classes", m.NumClasses, 2);
        if (!(m.BnMomentum >= 0 && m.BnMomentum < 1)) p.Add($"model.bn_momentum: {F(m.BnMomentum)} must be a number in [0, 1)");
        Positive(p, "model.bn_epsilon", m.BnEpsilon);
        OneOf(p, "model.channel_reduction", m.ChannelReduction, KnownNames.ChannelReductions);
    }

    private static void ValidateObjective(SemPPLConfig c, List<string> p)
    {
        var o = c.Objective;
        Positive(p, "objective.temperature", o.Temperature);
        var batch = c.Training.BatchUnlabelled >= 1 ? (long)c.Training.TotalBatch() : 0;
        if (o.Negatives == "all") { }
        else if (int.TryParse(o.Negatives, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1)
        {
            if (batch > 0 && n >= batch)
                p.Add($"objective.negatives: {n} must be smaller than the batch ({batch} = batch_unlabelled + batch_labelled): at most {batch - 1} other images, or \"all\"");
        }
        else p.Add($"objective.negatives: '{o.Negatives}' must be a positive integer or \"all\"");
        NonNegative(p, "objective.alpha", o.Alpha);
        NonNegative(p, "objective.lambda", o.Lambda);
        NonNegative(p, "objective.c", o.C);
        NonNegative(p, "objective.classifier_weight", o.ClassifierWeight);
        AtLeast(p, "objective.knn_k", o.KnnK, 1);
        AtLeast(p, "objective.semantic_positives", o.SemanticPositives, 1);
        if (o.QueueCapacity == "auto") { }
        else if (int.TryParse(o.QueueCapacity, NumberStyles.None, CultureInfo.InvariantCulture, out var q) && q >= 1)
        {
            if (q < o.KnnK) p.Add($"objective.queue_capacity: {q} must be >= objective.knn_k ({o.KnnK})");
            if (c.Training.BatchUnlabelled >= 1 && c.Augment.LargeViews >= 1)
            {
                long push = (long)c.Training.EffectiveBatchLabelled() * c.Augment.LargeViews;
                if (q < push) p.Add($"objective.queue_capacity: {q} must be >= the entries pushed per step ({push} = batch_labelled x large_views)");
            }
        }
        else p.Add($"objective.queue_capacity: '{o.QueueCapacity}' must be a positive integer or \"auto\"");
    }

    private static void ValidateOptimizer(OptimizerConfig o, List<string> p)
    {
        OneOf(p, "optimizer.name", o.Name, KnownNames.Optimizers);
        Positive(p, "optimizer.base_lr", o.BaseLr);
        if (!(o.Momentum >= 0 && o.Momentum < 1)) p.Add($"optimizer.momentum: {F(o.Momentum)} must be a number in [0, 1)");
        NonNegative(p, "optimizer.weight_decay", o.WeightDecay);
        Positive(p, "optimizer.trust_coefficient", o.TrustCoefficient);
        if (o.Betas is null || o.Betas.Length != 2 || o.Betas.Any(x => !(x >= 0 && x < 1)))
            p.Add($"optimizer.betas: {L(o.Betas)} must be two numbers in [0, 1) (beta1, beta2)");
        Positive(p, "optimizer.epsilon", o.Epsilon);
    }

    private static void ValidateTraining(TrainingConfig t, List<string> p)
    {
        AtLeast(p, "training.batch_unlabelled", t.BatchUnlabelled, 1);
        AtLeast(p, "training.batch_labelled", t.BatchLabelled, 0);
        AtLeast(p, "training.bn_groups", t.BnGroups, 0);
        if (t.BnGroups > 0 && t.BatchUnlabelled >= 1 && t.BatchLabelled >= 0)
        {
            // The world size is known only at launch (DataParallelLayout checks it there); the groups must divide the batch anyway.
            try { DataParallelLayout.Split(t, 1); }
            catch (ConfigException e) { p.AddRange(e.Problems); }
        }
        AtLeast(p, "training.steps", t.Steps, 0);
        if (t.Steps == 0 && !(t.Epochs > 0 && double.IsFinite(t.Epochs)))
            p.Add($"training.epochs: {F(t.Epochs)} must be a number > 0 when training.steps is 0");
        NonNegative(p, "training.warmup_epochs", t.WarmupEpochs);
        AtLeast(p, "training.warmup_steps", t.WarmupSteps, 0);
        if (t.Steps > 0 && t.WarmupSteps > t.Steps)
            p.Add($"training.warmup_steps: {t.WarmupSteps} must be <= training.steps ({t.Steps})");
        if (t.Steps == 0 && t.WarmupSteps == 0 && t.Epochs > 0 && t.WarmupEpochs > t.Epochs)
            p.Add($"training.warmup_epochs: {F(t.WarmupEpochs)} must be <= training.epochs ({F(t.Epochs)})");
        Prob(p, "training.ema_base", t.EmaBase);
        AtLeast(p, "training.log_every", t.LogEvery, 1);
        AtLeast(p, "training.checkpoint_every", t.CheckpointEvery, 1);
        AtLeast(p, "training.keep_checkpoints", t.KeepCheckpoints, 1);
    }

    private static void ValidateEval(EvalConfig e, List<string> p)
    {
        AtLeast(p, "eval.knn_k", e.KnnK, 1);
        Positive(p, "eval.knn_temperature", e.KnnTemperature);
        AtLeast(p, "eval.linear_epochs", e.LinearEpochs, 0);
        Positive(p, "eval.linear_lr", e.LinearLr);
        AtLeast(p, "eval.fine_tune_epochs", e.FineTuneEpochs, 0);
        Positive(p, "eval.fine_tune_lr", e.FineTuneLr);
        AtLeast(p, "eval.batch_size", e.BatchSize, 1);
    }
}

using System.Globalization;

namespace SemPPL.Config;

/// <summary>
/// Every derived value of a configuration, computed in this one file. The extension methods need only the
/// config; <see cref="ResolvedConfig"/> adds the values that need the data set's sizes.
/// </summary>
public static class ConfigDerivations
{
    /// <summary>Upper bound of an "auto" queue capacity.</summary>
    public const int MaxAutoQueueCapacity = 65_536;

    /// <summary>B_l: training.batch_labelled, or B_u / 4 (integer division, at least 1) when it is 0.</summary>
    public static int EffectiveBatchLabelled(this TrainingConfig t) =>
        t.BatchLabelled > 0 ? t.BatchLabelled : Math.Max(1, t.BatchUnlabelled / 4);

    /// <summary>B = B_u + B_l, the images of one step.</summary>
    public static int TotalBatch(this TrainingConfig t) => t.BatchUnlabelled + t.EffectiveBatchLabelled();

    /// <summary>Negatives per anchor: objective.negatives as a number, or B - 1 for "all".</summary>
    public static int NegativesCount(this SemPPLConfig c) =>
        c.Objective.Negatives == "all"
            ? c.Training.TotalBatch() - 1
            : int.Parse(c.Objective.Negatives, NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>Peak learning rate: base_lr * (B_u + B_l) / 256.</summary>
    public static double LearningRate(this SemPPLConfig c) =>
        c.Optimizer.BaseLr * c.Training.TotalBatch() / 256.0;

    /// <summary>
    /// Queue capacity C. A number is used as given. "auto" = labelledImages x L, capped at 65,536, and never
    /// below B_l x L (the entries pushed in one step, so one push never overwrites itself).
    /// </summary>
    public static int QueueCapacity(this SemPPLConfig c, int labelledImages)
    {
        if (c.Objective.QueueCapacity != "auto")
            return int.Parse(c.Objective.QueueCapacity, NumberStyles.None, CultureInfo.InvariantCulture);
        if (labelledImages < 1) throw new ArgumentOutOfRangeException(nameof(labelledImages), labelledImages, "need at least one labelled image");
        long L = c.Augment.LargeViews;
        long auto = Math.Min((long)labelledImages * L, MaxAutoQueueCapacity);
        long push = (long)c.Training.EffectiveBatchLabelled() * L;
        return (int)Math.Max(auto, push);
    }

    /// <summary>Optimizer steps in one epoch of the unlabelled stream: ceil(unlabelledImages / B_u).</summary>
    public static int StepsPerEpoch(this SemPPLConfig c, int unlabelledImages)
    {
        if (unlabelledImages < 1) throw new ArgumentOutOfRangeException(nameof(unlabelledImages), unlabelledImages, "need at least one training image");
        return (int)((unlabelledImages + (long)c.Training.BatchUnlabelled - 1) / c.Training.BatchUnlabelled);
    }

    /// <summary>Total steps: training.steps, or ceil(epochs x unlabelledImages / B_u) when steps is 0 (at least 1).</summary>
    public static int TotalSteps(this SemPPLConfig c, int unlabelledImages)
    {
        if (c.Training.Steps > 0) return c.Training.Steps;
        if (unlabelledImages < 1) throw new ArgumentOutOfRangeException(nameof(unlabelledImages), unlabelledImages, "need at least one training image");
        var steps = Math.Ceiling(c.Training.Epochs * unlabelledImages / c.Training.BatchUnlabelled - 1e-9);
        return (int)Math.Clamp(steps, 1, int.MaxValue);
    }

    /// <summary>
    /// Warm-up steps: training.warmup_steps when > 0, else round(warmup_epochs x unlabelledImages / B_u);
    /// never more than the total steps.
    /// </summary>
    public static int WarmupSteps(this SemPPLConfig c, int unlabelledImages)
    {
        var total = c.TotalSteps(unlabelledImages);
        if (c.Training.WarmupSteps > 0) return Math.Min(c.Training.WarmupSteps, total);
        var w = Math.Round(c.Training.WarmupEpochs * unlabelledImages / c.Training.BatchUnlabelled, MidpointRounding.AwayFromZero);
        return (int)Math.Min(w, total);
    }

    /// <summary>Number of online views per image: L + S.</summary>
    public static int OnlineViews(this AugmentConfig a) => a.LargeViews + a.SmallViews;
}

/// <summary>
/// A validated config together with every derived value, for a data set of <see cref="UnlabelledImages"/>
/// training images (the unlabelled stream, after data.max_train_images) of which
/// <see cref="LabelledImages"/> are labelled.
/// </summary>
public sealed record ResolvedConfig
{
    public required SemPPLConfig Config { get; init; }
    public required int UnlabelledImages { get; init; }
    public required int LabelledImages { get; init; }
    /// <summary>B_u.</summary>
    public required int BatchUnlabelled { get; init; }
    /// <summary>B_l (0 in the config => B_u / 4, at least 1).</summary>
    public required int BatchLabelled { get; init; }
    /// <summary>B = B_u + B_l.</summary>
    public required int TotalBatch { get; init; }
    /// <summary>Negatives per anchor ("all" => B - 1).</summary>
    public required int NegativesCount { get; init; }
    /// <summary>Queue capacity C (entries).</summary>
    public required int QueueCapacity { get; init; }
    /// <summary>Peak learning rate base_lr x B / 256.</summary>
    public required double LearningRate { get; init; }
    public required int StepsPerEpoch { get; init; }
    public required int TotalSteps { get; init; }
    public required int WarmupSteps { get; init; }
    /// <summary>Config hash (see <see cref="ConfigHash"/>), with the queue capacity resolved.</summary>
    public required string Hash { get; init; }

    /// <summary>Validates the config (throws <see cref="ConfigException"/>) and computes every derived value.</summary>
    public static ResolvedConfig Resolve(SemPPLConfig config, int unlabelledImages, int labelledImages)
    {
        ConfigValidator.Validate(config);
        if (unlabelledImages < 1) throw new ArgumentOutOfRangeException(nameof(unlabelledImages), unlabelledImages, "need at least one training image");
        if (labelledImages < 1 || labelledImages > unlabelledImages)
            throw new ArgumentOutOfRangeException(nameof(labelledImages), labelledImages, $"must be in [1, {unlabelledImages}]");
        return new ResolvedConfig
        {
            Config = config,
            UnlabelledImages = unlabelledImages,
            LabelledImages = labelledImages,
            BatchUnlabelled = config.Training.BatchUnlabelled,
            BatchLabelled = config.Training.EffectiveBatchLabelled(),
            TotalBatch = config.Training.TotalBatch(),
            NegativesCount = config.NegativesCount(),
            QueueCapacity = config.QueueCapacity(labelledImages),
            LearningRate = config.LearningRate(),
            StepsPerEpoch = config.StepsPerEpoch(unlabelledImages),
            TotalSteps = config.TotalSteps(unlabelledImages),
            WarmupSteps = config.WarmupSteps(unlabelledImages),
            Hash = ConfigHash.Compute(config, labelledImages),
        };
    }
}

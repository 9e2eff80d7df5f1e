using SemPPL.Config;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>Every static dimension of an artifact set, resolved once from the config.</summary>
public sealed record ArtifactShapes
{
    public required int LargeViews { get; init; }
    public required int SmallViews { get; init; }
    public required int BatchUnlabelled { get; init; }
    public required int BatchLabelled { get; init; }
    public int Batch => BatchUnlabelled + BatchLabelled;
    public required int Channels { get; init; }
    public required int LargeSize { get; init; }
    public required int SmallSize { get; init; }
    public required int EmbeddingDim { get; init; }
    public required int Negatives { get; init; }
    public required int SemanticPositives { get; init; }
    public required int QueueCapacity { get; init; }
    public required int KnnK { get; init; }
    public required int NumClasses { get; init; }
    /// <summary>Entries pushed to the queue per step: every large view of every labelled image.</summary>
    public int QueuePush => LargeViews * BatchLabelled;
    public int OnlineViews => LargeViews + SmallViews;

    public static ArtifactShapes From(SemPPLConfig c, int labelledImages) => new()
    {
        LargeViews = c.Augment.LargeViews,
        SmallViews = c.Augment.SmallViews,
        BatchUnlabelled = c.Training.BatchUnlabelled,
        BatchLabelled = c.Training.EffectiveBatchLabelled(),
        Channels = c.Augment.Channels,
        LargeSize = c.Augment.LargeSize,
        SmallSize = c.Augment.SmallSize,
        EmbeddingDim = c.Model.Projector.Out,
        Negatives = c.NegativesCount(),
        SemanticPositives = c.Objective.SemanticPositives,
        QueueCapacity = c.QueueCapacity(labelledImages),
        KnnK = c.Objective.KnnK,
        NumClasses = c.Model.NumClasses,
    };
}

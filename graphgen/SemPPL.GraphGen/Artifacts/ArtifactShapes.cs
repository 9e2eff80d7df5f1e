using SemPPL.Config;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>
/// Every static dimension of an artifact set, resolved once from the config and the job's world size.
/// The batch sizes are one rank's: the config's batch is the whole job's and each of the <see cref="WorldSize"/> ranks
/// trains on its slice (B_u / N unlabelled, then B_l / N labelled images). Within a rank the batch is split into
/// <see cref="GroupsPerRank"/> BatchNorm groups (training.bn_groups): group j holds unlabelled images
/// [j u, (j + 1) u) and labelled images [j l, (j + 1) l) of the rank's slice (u, l its shares).
/// The job's batch index of a rank's image (what negatives and draws are keyed by) is unlabelled first:
/// rank r's unlabelled image i is r B_u/N + i, its labelled image j is B_u + r B_l/N + j.
/// </summary>
public sealed record ArtifactShapes
{
    public required int LargeViews { get; init; }
    public required int SmallViews { get; init; }
    /// <summary>One rank's unlabelled images per step (the whole batch_unlabelled in one process).</summary>
    public required int BatchUnlabelled { get; init; }
    /// <summary>One rank's labelled images per step.</summary>
    public required int BatchLabelled { get; init; }
    public int Batch => BatchUnlabelled + BatchLabelled;
    /// <summary>Ranks of the data-parallel job the set is made for (1: one process).</summary>
    public int WorldSize { get; init; } = 1;
    /// <summary>BatchNorm groups per rank: each group of the rank's batch gets its own batch statistics (1: the whole batch).</summary>
    public int GroupsPerRank { get; init; } = 1;
    /// <summary>The whole job's images per step.</summary>
    public int GlobalBatchUnlabelled => BatchUnlabelled * WorldSize;
    public int GlobalBatchLabelled => BatchLabelled * WorldSize;
    public int GlobalBatch => Batch * WorldSize;
    public required int Channels { get; init; }
    public required int LargeSize { get; init; }
    public required int SmallSize { get; init; }
    public required int EmbeddingDim { get; init; }
    public required int Negatives { get; init; }
    public required int SemanticPositives { get; init; }
    public required int QueueCapacity { get; init; }
    public required int KnnK { get; init; }
    public required int NumClasses { get; init; }
    /// <summary>Entries one rank's target graph emits for the queue: every large view of its labelled images.</summary>
    public int LocalQueuePush => LargeViews * BatchLabelled;
    /// <summary>Entries pushed to the queue per step (the whole job's labelled images, every large view); the same queue on every rank.</summary>
    public int QueuePush => LocalQueuePush * WorldSize;
    public int OnlineViews => LargeViews + SmallViews;

    /// <param name="worldSize">Ranks of the job (1: one process).</param>
    /// <exception cref="SemPPL.Config.ConfigException">the batch or training.bn_groups does not divide among the ranks and groups.</exception>
    public static ArtifactShapes From(SemPPLConfig c, int labelledImages, int worldSize = 1)
    {
        var (groupsPerRank, bu, bl) = DataParallelLayout.Split(c.Training, worldSize);
        return new ArtifactShapes
        {
            LargeViews = c.Augment.LargeViews,
            SmallViews = c.Augment.SmallViews,
            BatchUnlabelled = bu,
            BatchLabelled = bl,
            WorldSize = worldSize,
            GroupsPerRank = groupsPerRank,
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
}

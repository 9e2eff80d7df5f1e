namespace SemPPL.Data.Pipeline;

/// <summary>
/// The part of the whole job's batch one rank of a data-parallel job trains on. The job's batch is ordered
/// unlabelled then labelled (as one process orders it); rank r holds unlabelled positions [r u, (r + 1) u) and labelled
/// positions [B_u + r l, B_u + (r + 1) l), u = B_u / N and l = B_l / N, in that order. Everything drawn per image
/// (augmentation, negatives, semantic-positive draws) is keyed by the job position, so the world size does not change it.
/// </summary>
public readonly record struct RankSlice(int Rank, int WorldSize, int JobBatchUnlabelled, int JobBatchLabelled)
{
    /// <summary>One process: the whole batch.</summary>
    public static RankSlice Whole(int batchUnlabelled, int batchLabelled) => new(0, 1, batchUnlabelled, batchLabelled);

    public int BatchUnlabelled => JobBatchUnlabelled / WorldSize;
    public int BatchLabelled => JobBatchLabelled / WorldSize;
    public int Batch => BatchUnlabelled + BatchLabelled;
    public int JobBatch => JobBatchUnlabelled + JobBatchLabelled;
    public bool IsWhole => WorldSize == 1;

    /// <summary>The job position of this rank's image <paramref name="local"/> (its position in the rank's batch).</summary>
    public int JobPosition(int local) => local < BatchUnlabelled
        ? Rank * BatchUnlabelled + local
        : JobBatchUnlabelled + Rank * BatchLabelled + (local - BatchUnlabelled);

    /// <exception cref="ArgumentException">the rank is outside the job or the batch does not divide among the ranks.</exception>
    public void Validate()
    {
        if (WorldSize < 1 || Rank < 0 || Rank >= WorldSize) throw new ArgumentException($"rank {Rank} is not in a job of {WorldSize}");
        if (JobBatchUnlabelled % WorldSize != 0 || JobBatchLabelled % WorldSize != 0)
            throw new ArgumentException($"the batch ({JobBatchUnlabelled} unlabelled, {JobBatchLabelled} labelled) does not divide among {WorldSize} ranks");
    }
}

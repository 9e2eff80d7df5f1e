namespace SemPPL.Config;

/// <summary>
/// How the whole job's batch divides among the ranks of a data-parallel job and, within a rank, among its
/// BatchNorm groups (training.bn_groups). One place, so the config check, graphgen and the trainer agree.
/// </summary>
public static class DataParallelLayout
{
    /// <summary>
    /// The BatchNorm groups of the whole job: training.bn_groups, or one per rank when it is 0 (per-replica BatchNorm).
    /// </summary>
    public static int Groups(TrainingConfig t, int worldSize) => t.BnGroups > 0 ? t.BnGroups : worldSize;

    /// <summary>Groups per rank and one rank's unlabelled and labelled images.</summary>
    /// <exception cref="ConfigException">the ranks or groups do not divide the batch evenly; the message names the keys.</exception>
    public static (int GroupsPerRank, int BatchUnlabelled, int BatchLabelled) Split(TrainingConfig t, int worldSize)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "the world size is at least 1");
        int bu = t.BatchUnlabelled, bl = t.EffectiveBatchLabelled();
        int groups = Groups(t, worldSize);
        if (groups % worldSize != 0)
            throw new ConfigException($"training.bn_groups: {groups} is not a multiple of the {worldSize} ranks of this job; " +
                                      $"use 0 (one group per rank) or a multiple of {worldSize}");
        string what = t.BnGroups > 0 ? $"training.bn_groups = {groups}" : $"the {worldSize} ranks";
        if (bu % groups != 0)
            throw new ConfigException($"training.batch_unlabelled: {bu} does not divide into {what} (each group and rank takes an equal share); " +
                                      $"use a multiple of {groups}");
        if (bl % groups != 0)
            throw new ConfigException($"training.batch_labelled: {bl}{(t.BatchLabelled > 0 ? "" : " (batch_unlabelled / 4)")} does not divide into {what} " +
                                      $"(each group and rank takes an equal share); use a multiple of {groups}");
        return (groups / worldSize, bu / worldSize, bl / worldSize);
    }
}

using Xunit;
using SemPPL.Config;

namespace SemPPL.Config.Tests;

/// <summary>How the job's batch divides among ranks and BatchNorm groups, and the messages when it does not.</summary>
public class DataParallelLayoutTests
{
    private static TrainingConfig Training(int bu, int bl, int groups) => new() { BatchUnlabelled = bu, BatchLabelled = bl, BnGroups = groups };

    [Theory]
    [InlineData(64, 16, 0, 1, 1, 64, 16)]   // one process: the whole batch, one group
    [InlineData(64, 16, 0, 2, 1, 32, 8)]    // per replica: one group per rank
    [InlineData(64, 16, 4, 2, 2, 32, 8)]    // 4 groups over 2 ranks: 2 per rank
    [InlineData(64, 16, 2, 1, 2, 64, 16)]   // one process computing what 2 ranks compute
    [InlineData(64, 0, 0, 4, 1, 16, 4)]     // batch_labelled 0 = B_u / 4 = 16, then split
    public void Splits_the_batch(int bu, int bl, int groups, int ranks, int groupsPerRank, int rankBu, int rankBl) =>
        Assert.Equal((groupsPerRank, rankBu, rankBl), DataParallelLayout.Split(Training(bu, bl, groups), ranks));

    [Theory]
    [InlineData(64, 16, 3, 2, "training.bn_groups: 3 is not a multiple of the 2 ranks of this job")]
    [InlineData(63, 16, 0, 2, "training.batch_unlabelled: 63 does not divide into the 2 ranks")]
    [InlineData(64, 15, 0, 2, "training.batch_labelled: 15 does not divide into the 2 ranks")]
    [InlineData(64, 16, 32, 2, "training.batch_labelled: 16 does not divide into training.bn_groups = 32")]
    [InlineData(68, 0, 0, 4, "training.batch_labelled: 17 (batch_unlabelled / 4) does not divide")]
    public void Refuses_a_batch_that_does_not_divide(int bu, int bl, int groups, int ranks, string message)
    {
        var e = Assert.Throws<ConfigException>(() => DataParallelLayout.Split(Training(bu, bl, groups), ranks));
        Assert.StartsWith(message, Assert.Single(e.Problems));
    }

    [Fact]
    public void The_validator_checks_bn_groups_against_the_batch()
    {
        var c = new SemPPLConfig();
        c.Training.BatchUnlabelled = 64;
        c.Training.BatchLabelled = 16;
        c.Training.BnGroups = 3;
        Assert.Contains(ConfigValidator.Problems(c), p => p.StartsWith("training.batch_unlabelled: 64 does not divide into training.bn_groups = 3"));
        c.Training.BnGroups = -1;
        Assert.Contains(ConfigValidator.Problems(c), p => p.StartsWith("training.bn_groups: -1"));
    }
}

using Xunit;

namespace SemPPL.Config.Tests;

public class DerivedTests
{
    private static SemPPLConfig With(int bu, int bl = 0, string negatives = "10", string queue = "auto", int largeViews = 2)
    {
        var c = new SemPPLConfig();
        c.Training.BatchUnlabelled = bu; c.Training.BatchLabelled = bl;
        c.Objective.Negatives = negatives; c.Objective.QueueCapacity = queue;
        c.Augment.LargeViews = largeViews;
        return c;
    }

    [Theory]
    [InlineData(256, 0, 64)]
    [InlineData(4096, 0, 1024)]
    [InlineData(6, 0, 1)]    // 6/4 = 1
    [InlineData(3, 0, 1)]    // 3/4 = 0 -> at least 1
    [InlineData(64, 5, 5)]   // explicit
    public void BatchLabelled(int bu, int bl, int expected)
    {
        var c = With(bu, bl);
        Assert.Equal(expected, c.Training.EffectiveBatchLabelled());
        Assert.Equal(bu + expected, c.Training.TotalBatch());
    }

    [Fact]
    public void NegativesCount()
    {
        Assert.Equal(10, With(64, negatives: "10").NegativesCount());
        Assert.Equal(79, With(64, negatives: "all").NegativesCount());
    }

    [Fact]
    public void LearningRateScalesWithTheWholeBatch()
    {
        var c = With(4096); c.Optimizer.BaseLr = 0.3;
        Assert.Equal(6.0, c.LearningRate(), 12);
        var q = With(64); q.Optimizer.BaseLr = 1.0;
        Assert.Equal(80.0 / 256.0, q.LearningRate(), 12);
    }

    [Fact]
    public void QueueCapacity()
    {
        Assert.Equal(200, With(64).QueueCapacity(100));                         // 100 x L=2
        Assert.Equal(51_248, With(4096, largeViews: 4).QueueCapacity(12_812));  // ImageNet 1%: 12,812 x 4
        Assert.Equal(65_536, With(4096, largeViews: 4).QueueCapacity(128_116)); // ImageNet 10%: capped
        Assert.Equal(32, With(64).QueueCapacity(5));                            // floor: B_l x L = 16 x 2
        Assert.Equal(4096, With(64, queue: "4096").QueueCapacity(5));           // explicit
        Assert.Throws<ArgumentOutOfRangeException>(() => With(64).QueueCapacity(0));
    }

    [Fact]
    public void StepsFromEpochs()
    {
        var c = With(256); c.Training.Epochs = 100; c.Training.WarmupEpochs = 10;
        Assert.Equal(235, c.StepsPerEpoch(60_000));               // ceil(60000/256)
        Assert.Equal(23_438, c.TotalSteps(60_000));               // ceil(100 x 60000 / 256 = 23437.5)
        Assert.Equal(2_344, c.WarmupSteps(60_000));               // round(10 x 60000 / 256 = 2343.75)
        c.Training.Epochs = 1; c.Training.WarmupEpochs = 0;
        Assert.Equal(4, c.TotalSteps(1024));                      // exact: no extra step
        Assert.Equal(0, c.WarmupSteps(1024));
    }

    [Fact]
    public void ExplicitStepsWin()
    {
        var c = With(64); c.Training.Steps = 300; c.Training.WarmupSteps = 30; c.Training.Epochs = 1000;
        Assert.Equal(300, c.TotalSteps(10_000));
        Assert.Equal(30, c.WarmupSteps(10_000));
        c.Training.WarmupSteps = 0; c.Training.WarmupEpochs = 10;      // 10 x 10000/64 = 1562.5 -> capped at 300
        Assert.Equal(300, c.WarmupSteps(10_000));
    }

    [Fact]
    public void ResolveBundlesEverything()
    {
        var c = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "imagenet-r50-1pct.yaml"));
        var r = ResolvedConfig.Resolve(c, 1_281_167, 12_811);
        Assert.Equal((4096, 1024, 5120), (r.BatchUnlabelled, r.BatchLabelled, r.TotalBatch));
        Assert.Equal(10, r.NegativesCount);
        Assert.Equal(51_244, r.QueueCapacity);
        Assert.Equal(6.0, r.LearningRate, 12);
        Assert.Equal(313, r.StepsPerEpoch);
        Assert.Equal(93_836, r.TotalSteps);                       // ceil(300 x 1281167 / 4096 = 93835.47)
        Assert.Equal(3_128, r.WarmupSteps);                       // round(10 x 1281167 / 4096 = 3127.85)
        Assert.Equal(ConfigHash.Compute(c, 12_811), r.Hash);
        Assert.Equal(r.Hash, ConfigHash.Compute(r));
    }

    [Fact]
    public void ResolveValidatesFirst()
    {
        var c = new SemPPLConfig { Device = "gpu" };
        Assert.Throws<ConfigException>(() => ResolvedConfig.Resolve(c, 100, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => ResolvedConfig.Resolve(new SemPPLConfig(), 100, 101));
    }
}

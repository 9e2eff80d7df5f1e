using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Pipeline;
using SemPPL.Data.Splits;
using Xunit;

namespace SemPPL.Data.Tests;

public class PipelineTests
{
    private static readonly IImageDataset Fmnist = new SubsetDataset(FashionMnist.OpenEmbedded().Train, Enumerable.Range(0, 10_000).Where(i => i % 25 == 0).ToArray());

    private static BatchPipeline Make(int workers, AugmentConfig? aug = null, int labelsPerClass = 2, int bu = 16, int bl = 4)
    {
        var split = LabelledSplit.PerClass(Fmnist, labelsPerClass, 3);
        aug ??= new AugmentConfig { LargeViews = 2, SmallViews = 2, LargeSize = 28, SmallSize = 14, Channels = 1, CropArea = [0.35, 1.0], BlurProbability = [0.5, 0.5], SolarizeProbability = [0.2, 0.2] };
        return new BatchPipeline(Fmnist, split, aug, new PipelineOptions(bu, bl, 42, workers, 2));
    }

    [Fact]
    public void BatchesAreIdenticalWithOneOrTwoWorkersAndFromTheStream()
    {
        using var p1 = Make(1); using var p2 = Make(2);
        using var a = p1.GetBatch(37); using var b = p2.GetBatch(37);
        Assert.Equal(a.Large, b.Large);
        Assert.Equal(a.Small, b.Small);
        Assert.Equal(a.Indices, b.Indices);
        Assert.Equal(a.Labels, b.Labels);
        var streamed = p2.Stream(36, 38).Select(x => { var r = (x.Step, (float[])x.Large.Clone()); x.Dispose(); return r; }).ToList();
        Assert.Equal(new long[] { 36, 37 }, streamed.Select(s => s.Step));
        Assert.Equal(a.Large, streamed[1].Item2);
        using var c = p1.GetBatch(38);
        Assert.NotEqual(a.Large, c.Large);
    }

    [Fact]
    public void TheRanksOfAJobTogetherBuildTheOneProcessBatch()
    {
        var split = LabelledSplit.PerClass(Fmnist, 2, 3);
        var aug = new AugmentConfig { LargeViews = 2, SmallViews = 1, LargeSize = 28, SmallSize = 14, Channels = 1, CropArea = [0.35, 1.0] };
        using var whole = new BatchPipeline(Fmnist, split, aug, new PipelineOptions(16, 4, 42, 2, 2));
        using var b = whole.GetBatch(123);
        int n = 28 * 28, small = 14 * 14;
        for (int rank = 0; rank < 2; rank++)
        {
            using var p = new BatchPipeline(Fmnist, split, aug, new PipelineOptions(16, 4, 42, 2, 2) { Rank = rank, WorldSize = 2 });
            using var r = p.GetBatch(123);
            var slice = p.Options.Slice;
            Assert.Equal(10, r.BatchSize);
            for (int j = 0; j < r.BatchSize; j++)
            {
                int job = slice.JobPosition(j);
                Assert.Equal(b.Indices[job], r.Indices[j]);
                for (int v = 0; v < 2; v++) Assert.Equal(b.LargeView(v, job).ToArray(), r.LargeView(v, j).ToArray());
                Assert.Equal(b.SmallView(0, job).ToArray(), r.SmallView(0, j).ToArray());
            }
            Assert.Equal(b.Labels.AsSpan(rank * 2, 2).ToArray(), r.Labels);
            Assert.Equal(b.UnlabelledTrueLabels.AsSpan(rank * 8, 8).ToArray(), r.UnlabelledTrueLabels);
            Assert.Equal(n * 2 * 10, r.Large.Length);
            Assert.Equal(small * 10, r.Small.Length);
        }
        var e = Assert.Throws<DataConfigException>(() => new BatchPipeline(Fmnist, split, aug, new PipelineOptions(16, 4, 42, 2, 2) { Rank = 0, WorldSize = 3 }));
        Assert.Contains("does not divide among 3 ranks", e.Message);
    }

    [Fact]
    public void LayoutHoldsLabelsViewsAndNormalisedPixels()
    {
        using var p = Make(2);
        using var b = p.GetBatch(0);
        Assert.Equal(new long[] { 2, 20, 1, 28, 28 }, b.LargeShape);
        Assert.Equal(2 * 20 * 28 * 28, b.Large.Length);
        Assert.Equal(2 * 20 * 14 * 14, b.Small.Length);
        for (int j = 0; j < 4; j++) Assert.Equal(Fmnist.GetLabel(b.Indices[16 + j]), b.Labels[j]);
        for (int j = 0; j < 16; j++) Assert.Equal(Fmnist.GetLabel(b.Indices[j]), b.UnlabelledTrueLabels[j]);
        Assert.NotEqual(b.LargeView(0, 0).ToArray(), b.LargeView(1, 0).ToArray());   // two views differ
        double mean = b.Large.Average(v => (double)v);
        Assert.InRange(mean, -0.6, 0.6);   // normalised with the data set's mean/std
        Assert.True(b.Large.Max() > 1.0f);
    }

    [Fact]
    public void UnlabelledEpochIsAPermutationAndLabelledStreamCyclesIndependently()
    {
        using var p = Make(2, labelsPerClass: 1, bu: 16, bl: 3);   // 10 labelled items, 3 per step
        int spe = p.StepsPerEpoch;
        Assert.Equal(400 / 16, spe);
        var seen = new List<int>(); var labelled = new List<int>();
        var split = LabelledSplit.PerClass(Fmnist, 1, 3);
        var u = new int[16]; var l = new int[3]; var e = new long[3];
        for (int s = 0; s < spe; s++)
        {
            p.Sampler.Indices(s, u, l, e);
            seen.AddRange(u); labelled.AddRange(l);
        }
        Assert.Equal(seen.Count, seen.Distinct().Count());   // no repeats within an epoch
        Assert.All(labelled, i => Assert.Contains(i, split.Indices));
        // 25 steps x 3 = 75 labelled draws = 7.5 labelled epochs: every item 7 or 8 times
        Assert.All(labelled.GroupBy(i => i), g => Assert.InRange(g.Count(), 7, 8));
        for (int epoch = 0; epoch < 7; epoch++) Assert.Equal(10, labelled.Skip(10 * epoch).Take(10).Distinct().Count());   // each labelled epoch covers the split once
        p.Sampler.Indices(spe, u, l, e);
        Assert.NotEqual(seen.Take(16), u);   // next epoch: new permutation
    }

    [Fact]
    public void PoolReusesReturnedBuffers()
    {
        using var p = Make(1);
        var b = p.GetBatch(0); var buf = b.Large; b.Dispose();
        using var b2 = p.GetBatch(1);
        Assert.Same(buf, b2.Large);
    }

    [Fact]
    public void RgbPipelineOnFolderDataProducesSmallViews()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 2, 6, size: 40);
        var ds = new ImageFolderDataset(t.Path, 3, 1_000_000);
        var aug = new AugmentConfig { Channels = 3, LargeViews = 4, SmallViews = 2, LargeSize = 24, SmallSize = 12 };
        using var p = new BatchPipeline(ds, LabelledSplit.PerClass(ds, 2, 0), aug, new PipelineOptions(8, 2, 1, 2));
        using var b = p.GetBatch(0);
        Assert.Equal(4 * 10 * 3 * 24 * 24, b.Large.Length);
        Assert.Equal(2 * 10 * 3 * 12 * 12, b.Small.Length);
        Assert.All(b.Small, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(BatchPipeline.ImageNetMean, p.Mean);
    }
}

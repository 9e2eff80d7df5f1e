using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Splits;
using Xunit;

namespace SemPPL.Data.Tests;

public class SplitTests
{
    private static readonly IImageDataset Fmnist = FashionMnist.OpenEmbedded().Train;

    [Fact]
    public void PerClassSplitIsBalancedAndDeterministic()
    {
        var a = LabelledSplit.PerClass(Fmnist, 10, 7);
        var b = LabelledSplit.PerClass(Fmnist, 10, 7);
        var c = LabelledSplit.PerClass(Fmnist, 10, 8);
        Assert.Equal(100, a.Count);
        Assert.Equal(a.Indices, b.Indices);
        Assert.NotEqual(a.Indices, c.Indices);
        Assert.All(a.Indices.GroupBy(Fmnist.GetLabel), g => Assert.Equal(10, g.Count()));
        Assert.Equal(a.Indices.Length, a.Indices.Distinct().Count());
    }

    [Fact]
    public void FractionSplitIsClassBalanced()
    {
        var s = LabelledSplit.Create(Fmnist, new DataConfig { LabelFraction = 0.01 }, 1);
        Assert.Equal(100, s.Count);
        Assert.All(s.Indices.GroupBy(Fmnist.GetLabel), g => Assert.Equal(10, g.Count()));
        Assert.StartsWith("label_fraction", s.Method);
    }

    [Fact]
    public void SplitSaveLoadRoundTripsAndDetectsAnotherDataset()
    {
        using var t = new TempDir();
        var s = LabelledSplit.PerClass(Fmnist, 3, 2);
        var path = Path.Combine(t.Path, "run", "split.json");
        s.Save(path, Fmnist);
        var back = LabelledSplit.Load(path, Fmnist);
        Assert.Equal(s.Indices, back.Indices);
        Assert.Equal(s.Method, back.Method);
        Assert.Contains("train-", File.ReadAllText(path));
        var other = new SubsetDataset(Fmnist, Enumerable.Range(1, 5000).ToArray());
        Assert.Throws<DataConfigException>(() => LabelledSplit.Load(path, other));
    }

    [Fact]
    public void LabelFileSelectsNamedFiles()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 2, 3);
        var ds = new ImageFolderDataset(t.Path, 3, 1_000_000);
        var file = Path.Combine(t.Path, "1percent.txt");
        File.WriteAllLines(file, ["c0_1.jpg", "c1_2.bmp", ""]);
        var s = LabelledSplit.Create(ds, new DataConfig { LabelFile = file }, 0);
        Assert.Equal(new[] { "c0_1.jpg", "c1_2.bmp" }, s.Indices.Select(ds.GetItemName).Order());
    }
}

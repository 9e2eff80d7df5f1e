using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Pipeline;
using SemPPL.Data.Splits;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace SemPPL.Data.Tests;

public class BadInputTests
{
    [Fact]
    public void BadFilesAreSkippedOnceWithAWarningNamingThem()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 2, 3);
        string cls = Path.Combine(t.Path, "class0");
        File.WriteAllBytes(Path.Combine(cls, "zero.png"), []);
        File.WriteAllBytes(Path.Combine(cls, "corrupt.jpg"), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        File.WriteAllText(Path.Combine(cls, "notes.jpg"), "this is text, not an image");   // wrong extension
        using (var big = new Image<L8>(300, 300)) big.SaveAsPng(Path.Combine(cls, "bomb.png"));   // over the limit below
        var warnings = new List<string>();
        var diag = new DataDiagnostics();
        diag.Warning += warnings.Add;
        var ds = new ImageFolderDataset(t.Path, 3, maxPixels: 50_000, diag);
        Assert.Equal(6, ds.Count);
        Assert.Equal(4, diag.SkippedCount);
        Assert.Equal(4, warnings.Count);
        foreach (var name in new[] { "zero.png", "corrupt.jpg", "notes.jpg", "bomb.png" })
            Assert.Single(warnings, w => w.Contains(name));
        Assert.Contains(diag.SkippedFiles, s => s.Path.EndsWith("bomb.png") && s.Reason.Contains("max_pixels"));
    }

    [Fact]
    public void TruncatedFileIsReplacedAtDecodeTimeAndCounted()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 2, 4, size: 32);
        string victim = Path.Combine(t.Path, "class1", "c1_0.png");
        using (var img = TestData.Pattern(64, 64, 5)) img.SaveAsPng(victim);
        var bytes = File.ReadAllBytes(victim);
        File.WriteAllBytes(victim, bytes[..(bytes.Length / 2)]);   // header intact, body cut
        var warnings = new List<string>();
        var diag = new DataDiagnostics(); diag.Warning += warnings.Add;
        var ds = new ImageFolderDataset(t.Path, 3, 1_000_000, diag);
        Assert.Equal(8, ds.Count);   // header is fine, so it is indexed
        var split = LabelledSplit.PerClass(ds, 1, 0);
        var aug = new AugmentConfig { Channels = 3, LargeSize = 16, SmallSize = 8, LargeViews = 2 };
        using var pipe = new BatchPipeline(ds, split, aug, new PipelineOptions(8, 2, 0, Workers: 2), diag);
        using (var b = pipe.GetBatch(0)) Assert.DoesNotContain(Enumerable.Range(0, ds.Count).First(i => ds.GetItemName(i) == "c1_0.png"), b.Indices[..8]);
        using (var b = pipe.GetBatch(1)) { }
        Assert.Equal(1, diag.SkippedCount);
        Assert.Single(warnings, w => w.Contains("c1_0.png"));
        Assert.True(diag.Replacements >= 2);   // once per epoch it appeared in
        Assert.Contains("c1_0.png", diag.Summary());
    }

    [Fact]
    public void ConfigErrorsNameThePathOrClass()
    {
        using var t = new TempDir();
        var missing = Path.Combine(t.Path, "nope");
        Assert.Contains(missing, Assert.Throws<DataConfigException>(() => DatasetFactory.Open(new DataConfig { Dataset = "folder", Path = missing })).Message);
        Assert.Contains("data.path", Assert.Throws<DataConfigException>(() => DatasetFactory.Open(new DataConfig { Dataset = "folder", Path = "" })).Message);
        Assert.Contains("cifar10", Assert.Throws<DataConfigException>(() => DatasetFactory.Open(new DataConfig { Dataset = "cifar10" })).Message);
        Assert.Contains("'imagenet-x'", Assert.Throws<DataConfigException>(() => DatasetFactory.Open(new DataConfig { Dataset = "imagenet-x" })).Message);
        var empty = Directory.CreateDirectory(Path.Combine(t.Path, "empty")).FullName;
        Assert.Contains(empty, Assert.Throws<DataConfigException>(() => DatasetFactory.Open(new DataConfig { Dataset = "folder", Path = empty })).Message);
        Assert.Contains(empty, Assert.Throws<DataConfigException>(() => DatasetFactory.Open(new DataConfig { Dataset = "idx", Path = empty })).Message);

        var root = Path.Combine(t.Path, "tree");
        TestData.WriteFolder(root, 2, 2);
        Directory.CreateDirectory(Path.Combine(root, "emptyclass"));
        var e = Assert.Throws<DataConfigException>(() => new ImageFolderDataset(root, 3, 1_000_000));
        Assert.Contains("'emptyclass'", e.Message);
    }

    [Fact]
    public void SplitErrorsNameTheClassOrFiles()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 2, 3);
        var ds = new ImageFolderDataset(t.Path, 3, 1_000_000);
        var e = Assert.Throws<DataConfigException>(() => LabelledSplit.PerClass(ds, 4, 0));
        Assert.Contains("'class0'", e.Message);
        Assert.Contains("at most 3", e.Message);
        var file = Path.Combine(t.Path, "subset.txt");
        File.WriteAllLines(file, ["c0_0.png", "missing_1.JPEG"]);
        var e2 = Assert.Throws<DataConfigException>(() => LabelledSplit.Create(ds, new DataConfig { LabelFile = file }, 0));
        Assert.Contains("missing_1.JPEG", e2.Message);
        Assert.DoesNotContain("c0_0.png", e2.Message);
    }
}

using SemPPL.Config;
using SemPPL.Data.Datasets;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace SemPPL.Data.Tests;

public class ReaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IdxRawAndGzipReadTheSamePixels(bool gz)
    {
        using var t = new TempDir();
        TestData.WriteIdxPair(t.Path, "train", 12, 3, gz);
        TestData.WriteIdxPair(t.Path, "t10k", 6, 3, gz);
        var pair = DatasetFactory.Open(new DataConfig { Dataset = "idx", Path = t.Path });
        Assert.Equal(12, pair.Train.Count);
        Assert.Equal(6, pair.Test!.Count);
        Assert.Equal(3, pair.Train.NumClasses);
        Assert.Equal(1, pair.Train.Channels);
        Assert.Equal(2, pair.Train.GetLabel(5));
        Assert.Equal("train-000005", pair.Train.GetItemName(5));
        byte[] buf = [];
        Assert.True(pair.Train.TryDecode(5, ref buf, out int w, out int h, out _));
        Assert.Equal((4, 4), (w, h));
        Assert.Equal(50, buf[0]); Assert.Equal(65, buf[15]);
    }

    [Fact]
    public void CifarBinaryIsConvertedFromPlanarToHwc()
    {
        using var t = new TempDir();
        for (int b = 1; b <= 5; b++) File.WriteAllBytes(Path.Combine(t.Path, $"data_batch_{b}.bin"), CifarRecords(2, 1, b));
        File.WriteAllBytes(Path.Combine(t.Path, "test_batch.bin"), CifarRecords(3, 1, 9));
        var pair = DatasetFactory.Open(new DataConfig { Dataset = "cifar10", Path = t.Path });
        Assert.Equal(10, pair.Train.Count);
        Assert.Equal(3, pair.Test!.Count);
        Assert.Equal(3, pair.Train.Channels);
        byte[] buf = [];
        Assert.True(pair.Train.TryDecode(0, ref buf, out int w, out _, out _));
        Assert.Equal(32, w);
        // pixel 5 of record 0 of batch 1: R = 5, G = 100 + 5, B = 200 + 5 (mod 256)
        Assert.Equal(new byte[] { 5, 105, 205 }, buf[15..18]);
        Assert.Equal(1, pair.Train.GetLabel(0));

        File.WriteAllBytes(Path.Combine(t.Path, "train.bin"), CifarRecords(4, 2, 1));
        File.WriteAllBytes(Path.Combine(t.Path, "test.bin"), CifarRecords(2, 2, 1));
        var c100 = DatasetFactory.Open(new DataConfig { Dataset = "cifar100", Path = t.Path });
        Assert.Equal(4, c100.Train.Count);
        Assert.Equal(100, c100.Train.NumClasses);
        Assert.Equal(7, c100.Train.GetLabel(1));   // fine label, not the coarse one
    }

    private static byte[] CifarRecords(int n, int labelBytes, int salt)
    {
        int rec = labelBytes + 3072;
        var b = new byte[n * rec];
        for (int r = 0; r < n; r++)
        {
            if (labelBytes == 1) b[r * rec] = (byte)((r + salt) % 10);
            else { b[r * rec] = 3; b[r * rec + 1] = (byte)(r * 7 % 100); }
            for (int i = 0; i < 1024; i++)
            {
                b[r * rec + labelBytes + i] = (byte)i;
                b[r * rec + labelBytes + 1024 + i] = (byte)(100 + i);
                b[r * rec + labelBytes + 2048 + i] = (byte)(200 + i);
            }
        }
        return b;
    }

    [Fact]
    public void FolderReaderFindsClassesAtAnyDepthInSeveralFormats()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 3, 4);
        using (var g = TestData.Pattern(10, 6, 1)) { g.SaveAsGif(Path.Combine(t.Path, "class2", "x.gif")); g.SaveAsTiff(Path.Combine(t.Path, "class2", "y.tif")); g.SaveAsWebp(Path.Combine(t.Path, "class2", "z.webp")); }
        var ds = new ImageFolderDataset(t.Path, 3, 1_000_000);
        Assert.Equal(15, ds.Count);
        Assert.Equal(new[] { "class0", "class1", "class2" }, ds.ClassNames);
        Assert.Equal(0, ds.Diagnostics.SkippedCount);
        byte[] buf = [];
        for (int i = 0; i < ds.Count; i++) Assert.True(ds.TryDecode(i, ref buf, out _, out _, out _), ds.GetItemName(i));
        int png = Enumerable.Range(0, ds.Count).First(i => ds.GetItemName(i) == "c1_0.png");
        Assert.Equal(1, ds.GetLabel(png));
        Assert.True(ds.TryDecode(png, ref buf, out int w, out int h, out _));
        using var expected = TestData.Pattern(16, 16, 100);
        Assert.Equal((16, 16), (w, h));
        Assert.Equal(expected[3, 2].R, buf[(2 * 16 + 3) * 3]);   // PNG is lossless
        var grey = new ImageFolderDataset(t.Path, 1, 1_000_000);
        Assert.True(grey.TryDecode(png, ref buf, out _, out _, out _));
        Assert.Equal(1, grey.Channels);
    }

    [Fact]
    public void EmbeddedFashionMnistIsClassBalanced()
    {
        var pair = DatasetFactory.Open(new DataConfig());
        Assert.Equal(10_000, pair.Train.Count);
        Assert.Equal(2_000, pair.Test!.Count);
        var counts = new int[10];
        for (int i = 0; i < pair.Train.Count; i++) counts[pair.Train.GetLabel(i)]++;
        Assert.All(counts, c => Assert.Equal(1000, c));
        Assert.Equal("Ankle boot", pair.Train.ClassNames[9]);
        var (mean, std) = DatasetStats.Compute(pair.Train);
        Assert.InRange(mean[0], 0.25, 0.33);   // Fashion-MNIST: 0.286 / 0.353
        Assert.InRange(std[0], 0.32, 0.38);
    }

    [Fact]
    public void FullFashionMnistIsFoundWhenInstalled()
    {
        if (!Directory.Exists(FashionMnist.DebianPath)) return;   // CI installs dataset-fashion-mnist
        var pair = DatasetFactory.Open(new DataConfig { Dataset = "fashion-mnist", MaxTrainImages = 1000 });
        Assert.Equal(1000, pair.Train.Count);
        Assert.Equal(10_000, pair.Test!.Count);
    }
}

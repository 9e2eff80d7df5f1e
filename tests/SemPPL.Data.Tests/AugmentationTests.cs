using SemPPL.Data.Augmentation;
using SemPPL.Data.Random;
using Xunit;

namespace SemPPL.Data.Tests;

public class AugmentationTests
{
    private static float[] RandomImage(int channels, int size, int seed)
    {
        var rng = CounterRng.For(seed, RngStream.Subset);
        var a = new float[channels * size * size];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        return a;
    }

    [Fact]
    public void BrightnessFactorOneIsIdentityAndScalesOtherwise()
    {
        var img = RandomImage(3, 8, 1); var copy = (float[])img.Clone();
        ColorJitter.Brightness(img, 1f);
        Assert.Equal(copy, img);
        ColorJitter.Brightness(img, 0.5f);
        for (int i = 0; i < img.Length; i++) Assert.Equal(copy[i] * 0.5f, img[i], 6);
    }

    [Fact]
    public void ContrastZeroGivesTheGreyMeanAndOneIsIdentity()
    {
        var img = RandomImage(3, 6, 2); var copy = (float[])img.Clone();
        ColorJitter.Contrast(img, 3, 1f);
        Assert.Equal(copy, img);
        int n = 36; double mean = 0;
        for (int i = 0; i < n; i++) mean += 0.299 * copy[i] + 0.587 * copy[n + i] + 0.114 * copy[2 * n + i];
        mean /= n;
        ColorJitter.Contrast(img, 3, 0f);
        Assert.All(img, v => Assert.Equal(mean, v, 5));
    }

    [Fact]
    public void SaturationZeroEqualsGrayscale()
    {
        var a = RandomImage(3, 5, 3); var b = (float[])a.Clone();
        ColorJitter.Saturation(a, 0f);
        PixelOps.Grayscale(b);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 6);
    }

    [Fact]
    public void HueShiftRoundTripsAndMatchesKnownColours()
    {
        ColorJitter.RgbToHsv(0, 1, 0, out float h, out float s, out float v);
        Assert.Equal(1f / 3, h, 5); Assert.Equal(1f, s); Assert.Equal(1f, v);
        var pure = new float[] { 1, 0, 0 };   // one red pixel, shift by a third -> green
        ColorJitter.Hue(pure, 1f / 3);
        Assert.Equal(0f, pure[0], 5); Assert.Equal(1f, pure[1], 5); Assert.Equal(0f, pure[2], 5);

        var img = RandomImage(3, 8, 4); var copy = (float[])img.Clone();
        ColorJitter.Hue(img, 0.17f);
        Assert.NotEqual(copy, img);
        ColorJitter.Hue(img, -0.17f);
        for (int i = 0; i < img.Length; i++) Assert.Equal(copy[i], img[i], 4);
    }

    [Fact]
    public void VectorisedHueMatchesThePerPixelHsvReference()
    {
        var img = RandomImage(3, 9, 6); int n = 81;
        for (int i = 0; i < 9; i++) { img[i] = img[n + i]; }   // some ties between channels
        var expected = (float[])img.Clone();
        for (int i = 0; i < n; i++)
        {
            ColorJitter.RgbToHsv(expected[i], expected[n + i], expected[2 * n + i], out float h, out float s, out float v);
            h += 0.31f; h -= MathF.Floor(h);
            ColorJitter.HsvToRgb(h, s, v, out expected[i], out expected[n + i], out expected[2 * n + i]);
        }
        ColorJitter.Hue(img, 0.31f);
        for (int i = 0; i < img.Length; i++) Assert.Equal(expected[i], img[i], 4);
    }

    [Fact]
    public void SolarizeInvertsAtAndAboveTheThreshold()
    {
        var img = new float[] { 0f, 0.49f, 0.5f, 0.7f, 1f };
        PixelOps.Solarize(img);
        Assert.Equal(new[] { 0f, 0.49f, 0.5f, 1f - 0.7f, 0f }, img);
    }

    [Fact]
    public void NormalizeSubtractsMeanAndDividesByStdPerChannel()
    {
        var img = new float[] { 0.5f, 1f, 0.2f, 0.4f };   // 2 channels, 2 pixels
        PixelOps.Normalize(img, 2, [0.5f, 0.2f], [0.5f, 0.1f]);
        Assert.Equal(0f, img[0], 6); Assert.Equal(1f, img[1], 6); Assert.Equal(0f, img[2], 6); Assert.Equal(2f, img[3], 5);
    }

    [Fact]
    public void CropBoxesStayInsideAndWithinAreaAndAspectBounds()
    {
        for (int d = 0; d < 2000; d++)
        {
            var rng = CounterRng.For(1, RngStream.AugmentUnlabelled, d);
            int w = 20 + d % 50, h = 30 + d % 37;
            var box = RandomResizedCrop.Sample(w, h, 0.08, 1.0, 3.0 / 4, 4.0 / 3, ref rng);
            Assert.InRange(box.X, 0, w - box.Width);
            Assert.InRange(box.Y, 0, h - box.Height);
            Assert.True(box.Width >= 1 && box.Height >= 1);
            double area = (double)box.Width * box.Height / (w * h);
            double aspect = (double)box.Width / box.Height;
            // rounding to whole pixels can move area and aspect by about one pixel's worth
            double tol = 2.0 / Math.Min(box.Width, box.Height);
            Assert.InRange(area, 0.08 * (1 - 2 * tol) - 1e-9, 1.0);
            Assert.InRange(aspect, 0.75 * (1 - tol), 4.0 / 3 * (1 + tol));
        }
    }

    [Fact]
    public void CropFallsBackToCentreWhenNoTryFits()
    {
        var rng = CounterRng.For(0, RngStream.Subset);
        var box = RandomResizedCrop.Sample(100, 10, 0.9, 1.0, 0.99, 1.01, ref rng);   // a wide strip cannot hold a square of 90% area
        Assert.Equal(new CropBox(45, 0, 10, 10), box);
    }

    [Fact]
    public void BicubicResizeOfTheFullImageAtTheSameSizeIsIdentityAndFlipMirrors()
    {
        var src = new byte[3 * 6 * 6];
        for (int i = 0; i < src.Length; i++) src[i] = (byte)(i * 13);
        var dst = new float[src.Length];
        var r = new BicubicResampler();
        r.Resample(src, 6, 6, 3, new CropBox(0, 0, 6, 6), 6, false, dst);
        for (int y = 0; y < 6; y++) for (int x = 0; x < 6; x++) for (int c = 0; c < 3; c++)
            Assert.Equal(src[(y * 6 + x) * 3 + c] / 255f, dst[c * 36 + y * 6 + x], 5);
        r.Resample(src, 6, 6, 3, new CropBox(0, 0, 6, 6), 6, true, dst);
        Assert.Equal(src[(2 * 6 + 0) * 3 + 1] / 255f, dst[36 + 2 * 6 + 5], 5);
    }

    [Fact]
    public void BicubicDownscaleOfAConstantIsConstant()
    {
        var src = Enumerable.Repeat((byte)120, 40 * 30).ToArray();
        var dst = new float[7 * 7];
        new BicubicResampler().Resample(src, 40, 30, 1, new CropBox(3, 2, 33, 25), 7, false, dst);
        Assert.All(dst, v => Assert.Equal(120 / 255f, v, 5));
    }

    [Fact]
    public void BlurMatchesADirectTwoDimensionalReference()
    {
        Assert.Equal(23, GaussianBlur.KernelSize(224));
        Assert.Equal(3, GaussianBlur.KernelSize(28));
        Assert.Equal(9, GaussianBlur.KernelSize(96));
        int n = 19, k = 5; double sigma = 1.3;
        var img = RandomImage(2, n, 5); var expected = new float[img.Length];
        var w = GaussianBlur.Kernel(k, sigma);
        Assert.Equal(1f, w.Sum(), 5);
        static int Refl(int i, int n) => i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
        for (int c = 0; c < 2; c++) for (int y = 0; y < n; y++) for (int x = 0; x < n; x++)
        {
            double acc = 0;
            for (int i = 0; i < k; i++) for (int j = 0; j < k; j++)
                acc += w[i] * w[j] * img[c * n * n + Refl(y + i - k / 2, n) * n + Refl(x + j - k / 2, n)];
            expected[c * n * n + y * n + x] = (float)acc;
        }
        new GaussianBlur().Apply(img, 2, n, k, sigma);
        for (int i = 0; i < img.Length; i++) Assert.Equal(expected[i], img[i], 5);
    }

    [Fact]
    public void StageObserverSeesEveryStageInOrderAndLeavesTheViewUnchanged()
    {
        var p = ViewParams.From(new SemPPL.Config.AugmentConfig { Channels = 3, LargeSize = 16, ColorJitterProbability = 1.0 },
            0, false, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
        var src = new byte[20 * 18 * 3];
        var pixelRng = CounterRng.For(7, RngStream.Subset);
        for (int i = 0; i < src.Length; i++) src[i] = (byte)pixelRng.NextInt(256);

        var plain = new float[3 * 16 * 16];
        var rng = CounterRng.For(3, RngStream.AugmentUnlabelled, 0, 1, 0);
        new ViewAugmenter().Augment(src, 20, 18, p, ref rng, plain);

        var observed = new float[plain.Length];
        var stages = new StageLog();
        rng = CounterRng.For(3, RngStream.AugmentUnlabelled, 0, 1, 0);
        new ViewAugmenter().Augment(src, 20, 18, p, ref rng, observed, stages);

        Assert.Equal(plain, observed);
        Assert.Equal(AugmentStage.CropResample, stages.Seen[0]);
        // Jitter (p = 1): its four stages in the random order the augmenter drew, each once.
        Assert.Equal([AugmentStage.Brightness, AugmentStage.Contrast, AugmentStage.Saturation, AugmentStage.Hue],
            stages.Seen.Skip(1).Take(4).Order());
        Assert.Equal([AugmentStage.Grayscale, AugmentStage.Blur, AugmentStage.SolarizeNormalise], stages.Seen.Skip(5));
    }

    private sealed class StageLog : IAugmentStageObserver
    {
        public List<AugmentStage> Seen { get; } = [];
        public void StageEnded(AugmentStage stage) => Seen.Add(stage);
    }
}

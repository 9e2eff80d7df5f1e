using SemPPL.Data.Augmentation;
using SemPPL.Data.Random;

namespace SemPPL.Data.Tests;

/// <summary>The optimised augmentation kernels against the plain implementations they replaced (<see cref="ReferenceResampler"/> etc.).</summary>
public class OptimisedOpsTests
{
    private static byte[] RandomBytes(int n, int seed)
    {
        var rng = CounterRng.For(seed, RngStream.Subset, 1);
        var a = new byte[n];
        for (int i = 0; i < n; i++) a[i] = (byte)rng.NextInt(256);
        return a;
    }

    private static float[] RandomFloats(int n, int seed)
    {
        var rng = CounterRng.For(seed, RngStream.Subset, 2);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)rng.NextDouble();
        return a;
    }

    [Fact]
    public void ResamplerIsBitIdenticalToTheScalarReference()
    {
        var fast = new BicubicResampler(); var reference = new ReferenceResampler();
        for (int d = 0; d < 400; d++)
        {
            var rng = CounterRng.For(3, RngStream.Subset, d);
            int channels = d % 4 == 0 ? 1 : 3;
            int w = 1 + rng.NextInt(70), h = 1 + rng.NextInt(70);
            if (d % 50 == 0) { w = 256; h = 256; }
            int size = d % 50 == 0 ? 224 : 1 + rng.NextInt(40);
            int bw = 1 + rng.NextInt(w), bh = 1 + rng.NextInt(h);
            var box = new CropBox(rng.NextInt(w - bw + 1), rng.NextInt(h - bh + 1), bw, bh);
            bool flip = rng.Bernoulli(0.5);
            var src = RandomBytes(w * h * channels, d);
            var a = new float[channels * size * size]; var b = new float[a.Length];
            fast.Resample(src, w, h, channels, box, size, flip, a);
            reference.Resample(src, w, h, channels, box, size, flip, b);
            Assert.True(a.AsSpan().SequenceEqual(b), $"case {d}: {w}x{h}x{channels} {box} -> {size} flip={flip}");
        }
    }

    [Theory]
    [InlineData(1, 3, 1.0)]
    [InlineData(2, 9, 1.5)]
    [InlineData(5, 3, 0.1)]
    [InlineData(7, 23, 2.0)]
    [InlineData(19, 5, 1.3)]
    [InlineData(28, 3, 0.7)]
    [InlineData(96, 9, 0.1)]
    [InlineData(96, 9, 1.9)]
    [InlineData(224, 23, 0.1)]
    [InlineData(224, 23, 0.6)]
    [InlineData(224, 23, 1.2)]
    [InlineData(224, 23, 2.0)]
    [InlineData(30, 8, 1.0)]   // even kernel: off-centre, as the reference handles it
    public void BlurMatchesTheReferenceWithinFloatRounding(int size, int k, double sigma)
    {
        var img = RandomFloats(3 * size * size, size * 100 + k);
        var expected = (float[])img.Clone();
        new ReferenceBlur().Apply(expected, 3, size, k, sigma);
        new GaussianBlur().Apply(img, 3, size, k, sigma);
        for (int i = 0; i < img.Length; i++) Assert.True(Math.Abs(expected[i] - img[i]) <= 1e-6f, $"{i}: {expected[i]} vs {img[i]}");
        var w = GaussianBlur.Kernel(k, sigma);
        if (w.All(v => v >= GaussianBlur.TapEpsilon)) Assert.Equal(expected, img);   // no tap skipped: same sums, same order
    }

    [Fact]
    public void PointOpsMatchTheReference()
    {
        foreach (int n in new[] { 1, 7, 8, 9, 50, 224 * 224 })
        {
            var img = RandomFloats(3 * n, n);
            var a = (float[])img.Clone(); var b = (float[])img.Clone();
            ColorJitter.Contrast(a, 3, 0.7f); ReferencePixelOps.Contrast(b, 3, 0.7f);
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6f);
            a = (float[])img.Clone(); b = (float[])img.Clone();
            ColorJitter.Contrast(a.AsSpan(0, n), 1, 1.3f); ReferencePixelOps.Contrast(b.AsSpan(0, n), 1, 1.3f);
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6f);

            a = (float[])img.Clone(); b = (float[])img.Clone();
            PixelOps.Grayscale(a); ReferencePixelOps.Grayscale(b);
            Assert.Equal(b, a);

            a = (float[])img.Clone(); b = (float[])img.Clone();
            PixelOps.Solarize(a); ReferencePixelOps.Solarize(b);
            Assert.Equal(b, a);

            float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
            a = (float[])img.Clone(); b = (float[])img.Clone();
            PixelOps.Normalize(a, 3, mean, std, solarize: true);
            ReferencePixelOps.Solarize(b); PixelOps.Normalize(b, 3, mean, std);
            Assert.Equal(b, a);
        }
    }
}

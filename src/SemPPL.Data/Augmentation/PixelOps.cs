using System.Numerics;

namespace SemPPL.Data.Augmentation;

/// <summary>Point-wise ops on CHW float planes in [0, 1].</summary>
public static class PixelOps
{
    /// <summary>RGB to grey (ITU-R 601 luma), written to all three planes (torchvision Grayscale(3)).</summary>
    public static void Grayscale(Span<float> img)
    {
        int n = img.Length / 3, vw = Vector<float>.Count, i = 0;
        var r = img.Slice(0, n); var g = img.Slice(n, n); var b = img.Slice(2 * n, n);
        var w0 = new Vector<float>(0.299f); var w1 = new Vector<float>(0.587f); var w2 = new Vector<float>(0.114f);
        for (; i <= n - vw; i += vw)
        {
            var l = w0 * new Vector<float>(r.Slice(i, vw)) + w1 * new Vector<float>(g.Slice(i, vw)) + w2 * new Vector<float>(b.Slice(i, vw));
            l.CopyTo(r.Slice(i, vw)); l.CopyTo(g.Slice(i, vw)); l.CopyTo(b.Slice(i, vw));
        }
        for (; i < n; i++)
        {
            float l = ColorJitter.Luma(r[i], g[i], b[i]);
            r[i] = l; g[i] = l; b[i] = l;
        }
    }

    /// <summary>Pixels at or above <paramref name="threshold"/> are inverted (x -> 1 - x).</summary>
    public static void Solarize(Span<float> img, float threshold = 0.5f)
    {
        int vw = Vector<float>.Count, i = 0;
        var t = new Vector<float>(threshold);
        for (; i <= img.Length - vw; i += vw)
        {
            var v = new Vector<float>(img.Slice(i, vw));
            Vector.ConditionalSelect(Vector.GreaterThanOrEqual(v, t), Vector<float>.One - v, v).CopyTo(img.Slice(i, vw));
        }
        for (; i < img.Length; i++) if (img[i] >= threshold) img[i] = 1f - img[i];
    }

    /// <summary>(x - mean[c]) / std[c] per plane.</summary>
    public static void Normalize(Span<float> img, int channels, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
        => Normalize(img, channels, mean, std, false);

    /// <summary>
    /// (x' - mean[c]) / std[c] per plane, with x' = solarize(x) (threshold 0.5) when
    /// <paramref name="solarize"/>: the same values as <see cref="Solarize"/> then
    /// <see cref="Normalize(Span{float}, int, ReadOnlySpan{float}, ReadOnlySpan{float})"/>, in one pass.
    /// </summary>
    public static void Normalize(Span<float> img, int channels, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, bool solarize)
    {
        int n = img.Length / channels;
        const float threshold = 0.5f;
        var t = new Vector<float>(threshold);
        for (int c = 0; c < channels; c++)
        {
            float inv = 1f / std[c];
            // (x - m) / s as one multiply-add per pixel
            var p = img.Slice(c * n, n);
            var vm = new Vector<float>(inv); var va = new Vector<float>(-mean[c] * inv);
            int vw = Vector<float>.Count, i = 0;
            if (solarize)
            {
                for (; i <= n - vw; i += vw)
                {
                    var v = new Vector<float>(p.Slice(i, vw));
                    v = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(v, t), Vector<float>.One - v, v);
                    (v * vm + va).CopyTo(p.Slice(i, vw));
                }
                for (; i < n; i++) { float x = p[i] >= threshold ? 1f - p[i] : p[i]; p[i] = x * inv - mean[c] * inv; }
            }
            else
            {
                for (; i <= n - vw; i += vw) (new Vector<float>(p.Slice(i, vw)) * vm + va).CopyTo(p.Slice(i, vw));
                for (; i < n; i++) p[i] = p[i] * inv - mean[c] * inv;
            }
        }
    }

    /// <summary>Converts HWC bytes between 1 and 3 channels (grey replicated, or RGB to luma).</summary>
    public static void ConvertChannels(ReadOnlySpan<byte> src, int srcChannels, Span<byte> dst, int dstChannels, int pixels)
    {
        if (srcChannels == 1 && dstChannels == 3)
            for (int i = 0; i < pixels; i++) { byte v = src[i]; dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v; }
        else if (srcChannels == 3 && dstChannels == 1)
            for (int i = 0; i < pixels; i++) dst[i] = (byte)Math.Clamp((int)MathF.Round(ColorJitter.Luma(src[3 * i], src[3 * i + 1], src[3 * i + 2])), 0, 255);
        else src.Slice(0, pixels * srcChannels).CopyTo(dst);
    }
}

namespace SemPPL.Data.Augmentation;

/// <summary>Point-wise ops on CHW float planes in [0, 1].</summary>
public static class PixelOps
{
    /// <summary>RGB to grey (ITU-R 601 luma), written to all three planes (torchvision Grayscale(3)).</summary>
    public static void Grayscale(Span<float> img)
    {
        int n = img.Length / 3;
        for (int i = 0; i < n; i++)
        {
            float g = ColorJitter.Luma(img[i], img[n + i], img[2 * n + i]);
            img[i] = g; img[n + i] = g; img[2 * n + i] = g;
        }
    }

    /// <summary>Pixels at or above <paramref name="threshold"/> are inverted (x -> 1 - x).</summary>
    public static void Solarize(Span<float> img, float threshold = 0.5f)
    {
        for (int i = 0; i < img.Length; i++) if (img[i] >= threshold) img[i] = 1f - img[i];
    }

    /// <summary>(x - mean[c]) / std[c] per plane.</summary>
    public static void Normalize(Span<float> img, int channels, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        int n = img.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            float inv = 1f / std[c];
            // (x - m) / s as one multiply-add per pixel
            var p = img.Slice(c * n, n);
            var vm = new System.Numerics.Vector<float>(inv); var va = new System.Numerics.Vector<float>(-mean[c] * inv);
            int vw = System.Numerics.Vector<float>.Count, i = 0;
            for (; i <= n - vw; i += vw) (new System.Numerics.Vector<float>(p.Slice(i, vw)) * vm + va).CopyTo(p.Slice(i, vw));
            for (; i < n; i++) p[i] = p[i] * inv - mean[c] * inv;
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

namespace SemPPL.Data.Augmentation;

/// <summary>
/// torchvision ColorJitter ops on CHW float planes in [0, 1]. Grey images (one plane) support
/// brightness and contrast only.
/// </summary>
public static class ColorJitter
{
    /// <summary>x * f, clamped.</summary>
    public static void Brightness(Span<float> img, float f)
    {
        for (int i = 0; i < img.Length; i++) img[i] = Math.Clamp(img[i] * f, 0f, 1f);
    }

    /// <summary>Blend with the mean of the grey image: f * x + (1 - f) * mean, clamped.</summary>
    public static void Contrast(Span<float> img, int channels, float f)
    {
        int n = img.Length / channels;
        double sum = 0;
        if (channels == 3) for (int i = 0; i < n; i++) sum += Luma(img[i], img[n + i], img[2 * n + i]);
        else for (int i = 0; i < n; i++) sum += img[i];
        float m = (float)(sum / n) * (1 - f);
        for (int i = 0; i < img.Length; i++) img[i] = Math.Clamp(f * img[i] + m, 0f, 1f);
    }

    /// <summary>Blend each pixel with its grey value: f * x + (1 - f) * grey, clamped (RGB only).</summary>
    public static void Saturation(Span<float> img, float f)
    {
        int n = img.Length / 3;
        for (int i = 0; i < n; i++)
        {
            float g = (1 - f) * Luma(img[i], img[n + i], img[2 * n + i]);
            img[i] = Math.Clamp(f * img[i] + g, 0f, 1f);
            img[n + i] = Math.Clamp(f * img[n + i] + g, 0f, 1f);
            img[2 * n + i] = Math.Clamp(f * img[2 * n + i] + g, 0f, 1f);
        }
    }

    /// <summary>Shift the HSV hue by <paramref name="shift"/> (fraction of a turn, in [-0.5, 0.5]) (RGB only).</summary>
    public static void Hue(Span<float> img, float shift)
    {
        int n = img.Length / 3;
        for (int i = 0; i < n; i++)
        {
            float r = img[i], g = img[n + i], b = img[2 * n + i];
            RgbToHsv(r, g, b, out float h, out float s, out float v);
            h += shift;
            h -= MathF.Floor(h);
            HsvToRgb(h, s, v, out r, out g, out b);
            img[i] = r; img[n + i] = g; img[2 * n + i] = b;
        }
    }

    public static float Luma(float r, float g, float b) => 0.299f * r + 0.587f * g + 0.114f * b;

    /// <summary>torchvision's _rgb2hsv (h in [0, 1)).</summary>
    public static void RgbToHsv(float r, float g, float b, out float h, out float s, out float v)
    {
        float max = MathF.Max(r, MathF.Max(g, b)), min = MathF.Min(r, MathF.Min(g, b));
        float cr = max - min;
        v = max;
        s = max > 0 ? cr / max : 0;
        if (cr <= 0) { h = 0; return; }
        float rc = (max - r) / cr, gc = (max - g) / cr, bc = (max - b) / cr;
        if (max == r) h = bc - gc;
        else if (max == g) h = 2f + rc - bc;
        else h = 4f + gc - rc;
        h = h / 6f + 1f;
        h -= MathF.Floor(h);
    }

    /// <summary>torchvision's _hsv2rgb.</summary>
    public static void HsvToRgb(float h, float s, float v, out float r, out float g, out float b)
    {
        float h6 = h * 6f;
        int i = (int)MathF.Floor(h6);
        float f = h6 - i;
        i %= 6; if (i < 0) i += 6;
        float p = Math.Clamp(v * (1 - s), 0f, 1f);
        float q = Math.Clamp(v * (1 - s * f), 0f, 1f);
        float t = Math.Clamp(v * (1 - s * (1 - f)), 0f, 1f);
        (r, g, b) = i switch
        {
            0 => (v, t, p), 1 => (q, v, p), 2 => (p, v, t),
            3 => (p, q, v), 4 => (t, p, v), _ => (v, p, q),
        };
    }
}

using System.Numerics;
using System.Runtime.InteropServices;

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
        Blend(img, f, 0f);
    }

    /// <summary>img = clamp(f * img + add), vectorised.</summary>
    internal static void Blend(Span<float> img, float f, float add)
    {
        int vw = Vector<float>.Count, i = 0;
        var vf = new Vector<float>(f); var va = new Vector<float>(add);
        for (; i <= img.Length - vw; i += vw)
        {
            var v = new Vector<float>(img.Slice(i, vw)) * vf + va;
            Vector.Min(Vector.Max(v, Vector<float>.Zero), Vector<float>.One).CopyTo(img.Slice(i, vw));
        }
        for (; i < img.Length; i++) img[i] = Math.Clamp(img[i] * f + add, 0f, 1f);
    }

    /// <summary>Blend with the mean of the grey image: f * x + (1 - f) * mean, clamped.</summary>
    public static void Contrast(Span<float> img, int channels, float f)
    {
        int n = img.Length / channels;
        double sum = channels == 3 ? LumaSum(img.Slice(0, n), img.Slice(n, n), img.Slice(2 * n, n)) : Sum(img.Slice(0, n));
        Blend(img, f, (float)(sum / n) * (1 - f));
    }

    /// <summary>
    /// Sum of the per-pixel lumas in double (each luma computed in float exactly as <see cref="Luma"/>),
    /// vectorised: the double additions run in lanes, so the sum can differ from a sequential one in
    /// the last bits of the double, which the float mean almost never sees.
    /// </summary>
    internal static double LumaSum(ReadOnlySpan<float> r, ReadOnlySpan<float> g, ReadOnlySpan<float> b)
    {
        int n = r.Length, vw = Vector<float>.Count, i = 0;
        if (g.Length < n || b.Length < n) throw new ArgumentException("planes differ in length");
        ref float r0 = ref MemoryMarshal.GetReference(r); ref float g0 = ref MemoryMarshal.GetReference(g); ref float b0 = ref MemoryMarshal.GetReference(b);
        var w0 = new Vector<float>(0.299f); var w1 = new Vector<float>(0.587f); var w2 = new Vector<float>(0.114f);
        Vector<double> acc0 = Vector<double>.Zero, acc1 = Vector<double>.Zero;
        for (; i <= n - vw; i += vw)
        {
            var l = w0 * Vector.LoadUnsafe(ref r0, (nuint)i) + w1 * Vector.LoadUnsafe(ref g0, (nuint)i) + w2 * Vector.LoadUnsafe(ref b0, (nuint)i);
            Vector.Widen(l, out var lo, out var hi);
            acc0 += lo; acc1 += hi;
        }
        double sum = Vector.Sum(acc0 + acc1);
        for (; i < n; i++) sum += Luma(r[i], g[i], b[i]);
        return sum;
    }

    /// <summary>Sum in double, vectorised like <see cref="LumaSum"/>.</summary>
    internal static double Sum(ReadOnlySpan<float> x)
    {
        int n = x.Length, vw = Vector<float>.Count, i = 0;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        Vector<double> acc0 = Vector<double>.Zero, acc1 = Vector<double>.Zero;
        for (; i <= n - vw; i += vw)
        {
            Vector.Widen(Vector.LoadUnsafe(ref x0, (nuint)i), out var lo, out var hi);
            acc0 += lo; acc1 += hi;
        }
        double sum = Vector.Sum(acc0 + acc1);
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>Blend each pixel with its grey value: f * x + (1 - f) * grey, clamped (RGB only).</summary>
    public static void Saturation(Span<float> img, float f)
    {
        int n = img.Length / 3, vw = Vector<float>.Count, i = 0;
        var r = img.Slice(0, n); var gr = img.Slice(n, n); var b = img.Slice(2 * n, n);
        var vf = new Vector<float>(f);
        var w0 = new Vector<float>(0.299f * (1 - f)); var w1 = new Vector<float>(0.587f * (1 - f)); var w2 = new Vector<float>(0.114f * (1 - f));
        for (; i <= n - vw; i += vw)
        {
            var vr = new Vector<float>(r.Slice(i, vw)); var vg = new Vector<float>(gr.Slice(i, vw)); var vb = new Vector<float>(b.Slice(i, vw));
            var g = vr * w0 + vg * w1 + vb * w2;
            Vector.Min(Vector.Max(vr * vf + g, Vector<float>.Zero), Vector<float>.One).CopyTo(r.Slice(i, vw));
            Vector.Min(Vector.Max(vg * vf + g, Vector<float>.Zero), Vector<float>.One).CopyTo(gr.Slice(i, vw));
            Vector.Min(Vector.Max(vb * vf + g, Vector<float>.Zero), Vector<float>.One).CopyTo(b.Slice(i, vw));
        }
        for (; i < n; i++)
        {
            float g = (1 - f) * Luma(r[i], gr[i], b[i]);
            r[i] = Math.Clamp(f * r[i] + g, 0f, 1f);
            gr[i] = Math.Clamp(f * gr[i] + g, 0f, 1f);
            b[i] = Math.Clamp(f * b[i] + g, 0f, 1f);
        }
    }

    /// <summary>Shift the HSV hue by <paramref name="shift"/> (fraction of a turn, in [-0.5, 0.5]) (RGB only).</summary>
    public static void Hue(Span<float> img, float shift)
    {
        int n = img.Length / 3;
        int done = HueVector(img.Slice(0, n), img.Slice(n, n), img.Slice(2 * n, n), shift);
        for (int i = done; i < n; i++)
        {
            float r = img[i], g = img[n + i], b = img[2 * n + i];
            RgbToHsv(r, g, b, out float h, out float s, out float v);
            h += shift;
            h -= MathF.Floor(h);
            HsvToRgb(h, s, v, out r, out g, out b);
            img[i] = r; img[n + i] = g; img[2 * n + i] = b;
        }
    }

    /// <summary>The same HSV round trip as <see cref="RgbToHsv"/>/<see cref="HsvToRgb"/>, lane-wise; returns the pixels done.</summary>
    private static int HueVector(Span<float> rs, Span<float> gs, Span<float> bs, float shift)
    {
        int vw = Vector<float>.Count, n = rs.Length, i = 0;
        var zero = Vector<float>.Zero; var one = Vector<float>.One; var six = new Vector<float>(6f);
        var vshift = new Vector<float>(shift);
        for (; i <= n - vw; i += vw)
        {
            var r = new Vector<float>(rs.Slice(i, vw)); var g = new Vector<float>(gs.Slice(i, vw)); var b = new Vector<float>(bs.Slice(i, vw));
            var max = Vector.Max(r, Vector.Max(g, b)); var min = Vector.Min(r, Vector.Min(g, b));
            var cr = max - min;
            var v = max;
            var s = Vector.ConditionalSelect(Vector.GreaterThan(max, zero), cr / Vector.ConditionalSelect(Vector.Equals(max, zero), one, max), zero);
            var grey = Vector.LessThanOrEqual(cr, zero);
            var crs = Vector.ConditionalSelect(grey, one, cr);
            // max == r: bc - gc; max == g: 2 + rc - bc; else 4 + gc - rc (xc = (max - x) / crs). Only the
            // two quotients the branch uses are divided: (off + a) - b, with 0 + bc == bc exactly.
            var isR = Vector.Equals(max, r); var isG = Vector.AndNot(Vector.Equals(max, g), isR);
            var a = Vector.ConditionalSelect(isR, max - b, Vector.ConditionalSelect(isG, max - r, max - g)) / crs;
            var bq = Vector.ConditionalSelect(isR, max - g, Vector.ConditionalSelect(isG, max - b, max - r)) / crs;
            var off = Vector.ConditionalSelect(isR, zero, Vector.ConditionalSelect(isG, new Vector<float>(2f), new Vector<float>(4f)));
            var h = off + a - bq;
            h = h / six + one;
            h -= Vector.Floor(h);
            h = Vector.ConditionalSelect(grey, zero, h);
            h += vshift;
            h -= Vector.Floor(h);

            var h6 = h * six;
            var fi = Vector.Floor(h6);
            var f = h6 - fi;
            fi = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(fi, six), fi - six, fi);
            var p = Vector.Min(Vector.Max(v * (one - s), zero), one);
            var q = Vector.Min(Vector.Max(v * (one - s * f), zero), one);
            var t = Vector.Min(Vector.Max(v * (one - s * (one - f)), zero), one);
            var s0 = Vector.Equals(fi, zero); var s1 = Vector.Equals(fi, one); var s2 = Vector.Equals(fi, new Vector<float>(2f));
            var s3 = Vector.Equals(fi, new Vector<float>(3f)); var s4 = Vector.Equals(fi, new Vector<float>(4f));
            // sectors:      0  1  2  3  4  5
            // r:            v  q  p  p  t  v
            // g:            t  v  v  q  p  p
            // b:            p  p  t  v  v  q
            var ro = Vector.ConditionalSelect(s0, v, Vector.ConditionalSelect(s1, q, Vector.ConditionalSelect(s2 | s3, p, Vector.ConditionalSelect(s4, t, v))));
            var go = Vector.ConditionalSelect(s0, t, Vector.ConditionalSelect(s1 | s2, v, Vector.ConditionalSelect(s3, q, p)));
            var bo = Vector.ConditionalSelect(s0 | s1, p, Vector.ConditionalSelect(s2, t, Vector.ConditionalSelect(s3 | s4, v, q)));
            ro.CopyTo(rs.Slice(i, vw)); go.CopyTo(gs.Slice(i, vw)); bo.CopyTo(bs.Slice(i, vw));
        }
        return i;
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

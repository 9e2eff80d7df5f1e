using System.Numerics;
using SemPPL.Data.Augmentation;

namespace SemPPL.Data.Tests;

/// <summary>
/// The straightforward implementations the optimised ones replaced (kept verbatim apart from
/// names), used as references: the optimised code must match them bit for bit or within float rounding.
/// </summary>
internal sealed class ReferenceResampler
{
    private int[] _xStart = [], _xCount = [], _yStart = [], _yCount = [];
    private float[] _xW = [], _yW = [], _tmp = [];
    private int _xTaps, _yTaps;

    private static int Coefficients(int inStart, int inSize, int inTotal, int outSize, ref int[] start, ref int[] count, ref float[] weights)
        => BicubicResampler.Coefficients(inStart, inSize, inTotal, outSize, ref start, ref count, ref weights);

    /// <summary>Resamples <paramref name="box"/> of <paramref name="src"/> (HWC, <paramref name="channels"/>) to size x size into <paramref name="dst"/> (CHW), mirrored when <paramref name="flip"/>.</summary>
    public void Resample(ReadOnlySpan<byte> src, int width, int height, int channels, CropBox box, int size, bool flip, Span<float> dst)
    {
        _xTaps = Coefficients(box.X, box.Width, width, size, ref _xStart, ref _xCount, ref _xW);
        _yTaps = Coefficients(box.Y, box.Height, height, size, ref _yStart, ref _yCount, ref _yW);
        int y0 = _yStart[0], y1 = _yStart[size - 1] + _yCount[size - 1];
        int rows = y1 - y0;
        int plane = rows * size;
        if (_tmp.Length < plane * channels) _tmp = new float[plane * channels];
        var tmp = _tmp.AsSpan(0, plane * channels);
        const float inv255 = 1f / 255f;

        // Horizontal pass over the source rows the vertical pass needs: tmp[c][row][x].
        for (int r = 0; r < rows; r++)
        {
            var row = src.Slice((y0 + r) * width * channels, width * channels);
            for (int o = 0; o < size; o++)
            {
                int xs = _xStart[o], n = _xCount[o];
                var w = _xW.AsSpan(o * _xTaps, n);
                int ox = flip ? size - 1 - o : o;
                if (channels == 3)
                {
                    float a0 = 0, a1 = 0, a2 = 0;
                    var px = row.Slice(xs * 3, n * 3);
                    for (int k = 0; k < n; k++) { float wk = w[k]; a0 += wk * px[3 * k]; a1 += wk * px[3 * k + 1]; a2 += wk * px[3 * k + 2]; }
                    tmp[r * size + ox] = a0 * inv255;
                    tmp[plane + r * size + ox] = a1 * inv255;
                    tmp[2 * plane + r * size + ox] = a2 * inv255;
                }
                else
                {
                    float a0 = 0;
                    var px = row.Slice(xs, n);
                    for (int k = 0; k < n; k++) a0 += w[k] * px[k];
                    tmp[r * size + ox] = a0 * inv255;
                }
            }
        }

        // Vertical pass, vectorised along the row.
        int vw = Vector<float>.Count;
        for (int c = 0; c < channels; c++)
        {
            var tplane = tmp.Slice(c * plane, plane);
            var dplane = dst.Slice(c * size * size, size * size);
            for (int o = 0; o < size; o++)
            {
                int ys = _yStart[o] - y0, n = _yCount[o];
                var w = _yW.AsSpan(o * _yTaps, n);
                var drow = dplane.Slice(o * size, size);
                int x = 0;
                for (; x <= size - vw; x += vw)
                {
                    var acc = Vector<float>.Zero;
                    for (int k = 0; k < n; k++) acc += new Vector<float>(tplane.Slice((ys + k) * size + x, vw)) * w[k];
                    acc = Vector.Min(Vector.Max(acc, Vector<float>.Zero), Vector<float>.One);
                    acc.CopyTo(drow.Slice(x, vw));
                }
                for (; x < size; x++)
                {
                    float acc = 0;
                    for (int k = 0; k < n; k++) acc += tplane[(ys + k) * size + x] * w[k];
                    drow[x] = Math.Clamp(acc, 0f, 1f);
                }
            }
        }
    }
}

internal sealed class ReferenceBlur
{
    private float[] _kernel = [], _row = [], _tmp = [];

    private static void FillKernel(Span<float> w, double sigma) => GaussianBlur.Kernel(w.Length, sigma).CopyTo(w);

    private static int Reflect(int i, int n)
    {
        if (n == 1) return 0;
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
        return i;
    }

    /// <summary>Blurs every size x size plane of <paramref name="img"/> in place.</summary>
    public void Apply(Span<float> img, int channels, int size, int kernelSize, double sigma)
    {
        if (_kernel.Length != kernelSize) _kernel = new float[kernelSize];
        FillKernel(_kernel, sigma);
        int r = kernelSize / 2, plane = size * size;
        if (_row.Length < size + 2 * r) _row = new float[size + 2 * r];
        if (_tmp.Length < plane) _tmp = new float[plane];
        var k = _kernel.AsSpan();
        var row = _row.AsSpan(0, size + 2 * r);
        var tmp = _tmp.AsSpan(0, plane);
        int vw = Vector<float>.Count;
        for (int c = 0; c < channels; c++)
        {
            var p = img.Slice(c * plane, plane);
            // Horizontal: pad the row by reflection, then out[x] = sum_j k[j] * row[x + j].
            for (int y = 0; y < size; y++)
            {
                var src = p.Slice(y * size, size);
                for (int i = 0; i < row.Length; i++) row[i] = src[Reflect(i - r, size)];
                var dst = tmp.Slice(y * size, size);
                int x = 0;
                for (; x <= size - vw; x += vw)
                {
                    var acc = Vector<float>.Zero;
                    for (int j = 0; j < kernelSize; j++) acc += new Vector<float>(row.Slice(x + j, vw)) * k[j];
                    acc.CopyTo(dst.Slice(x, vw));
                }
                for (; x < size; x++)
                {
                    float acc = 0;
                    for (int j = 0; j < kernelSize; j++) acc += row[x + j] * k[j];
                    dst[x] = acc;
                }
            }
            // Vertical: out row y = sum_j k[j] * tmp row reflect(y + j - r).
            for (int y = 0; y < size; y++)
            {
                var dst = p.Slice(y * size, size);
                int x = 0;
                for (; x <= size - vw; x += vw)
                {
                    var acc = Vector<float>.Zero;
                    for (int j = 0; j < kernelSize; j++) acc += new Vector<float>(tmp.Slice(Reflect(y + j - r, size) * size + x, vw)) * k[j];
                    acc.CopyTo(dst.Slice(x, vw));
                }
                for (; x < size; x++)
                {
                    float acc = 0;
                    for (int j = 0; j < kernelSize; j++) acc += tmp[Reflect(y + j - r, size) * size + x] * k[j];
                    dst[x] = acc;
                }
            }
        }
    }
}

internal static class ReferencePixelOps
{
    public static void Contrast(Span<float> img, int channels, float f)
    {
        int n = img.Length / channels;
        double sum = 0;
        if (channels == 3) for (int i = 0; i < n; i++) sum += ColorJitter.Luma(img[i], img[n + i], img[2 * n + i]);
        else for (int i = 0; i < n; i++) sum += img[i];
        float add = (float)(sum / n) * (1 - f);
        for (int i = 0; i < img.Length; i++) img[i] = Math.Clamp(img[i] * f + add, 0f, 1f);
    }

    public static void Grayscale(Span<float> img)
    {
        int n = img.Length / 3;
        for (int i = 0; i < n; i++)
        {
            float g = ColorJitter.Luma(img[i], img[n + i], img[2 * n + i]);
            img[i] = g; img[n + i] = g; img[2 * n + i] = g;
        }
    }

    public static void Solarize(Span<float> img, float threshold = 0.5f)
    {
        for (int i = 0; i < img.Length; i++) if (img[i] >= threshold) img[i] = 1f - img[i];
    }
}

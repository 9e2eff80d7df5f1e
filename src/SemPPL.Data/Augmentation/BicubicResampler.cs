using System.Numerics;
using System.Runtime.InteropServices;

namespace SemPPL.Data.Augmentation;

/// <summary>
/// Separable bicubic resampling (a = -0.5, PIL/torchvision antialias semantics: the filter widens
/// when downscaling) of a crop of an HWC byte image into CHW float planes on [0, 1].
/// </summary>
public sealed class BicubicResampler
{
    // Per-worker scratch, grown on demand; never shared between threads.
    private int[] _xStart = [], _xCount = [], _yStart = [], _yCount = [];
    private float[] _xW = [], _yW = [], _tmp = [];
    private int _xTaps, _yTaps;

    public static double Cubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    /// <summary>PIL's precompute_coeffs: for each output pixel the first source index, the tap count and normalised weights.</summary>
    internal static int Coefficients(int inStart, int inSize, int inTotal, int outSize, ref int[] start, ref int[] count, ref float[] weights)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 2.0 * filterScale;
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        if (start.Length < outSize) { start = new int[outSize]; count = new int[outSize]; }
        if (weights.Length < outSize * taps) weights = new float[outSize * taps];
        double ss = 1.0 / filterScale;
        Span<double> w = stackalloc double[taps];
        for (int o = 0; o < outSize; o++)
        {
            double center = inStart + (o + 0.5) * scale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inTotal) - xmin;
            xmax = Math.Min(xmax, taps);
            double total = 0;
            for (int k = 0; k < xmax; k++) { w[k] = Cubic((k + xmin - center + 0.5) * ss); total += w[k]; }
            var dst = weights.AsSpan(o * taps, taps);
            dst.Clear();
            for (int k = 0; k < xmax; k++) dst[k] = (float)(total != 0 ? w[k] / total : 0);
            start[o] = xmin; count[o] = xmax;
        }
        return taps;
    }

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

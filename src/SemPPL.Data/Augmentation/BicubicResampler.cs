using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SemPPL.Data.Augmentation;

/// <summary>
/// Separable bicubic resampling (a = -0.5, PIL/torchvision antialias semantics: the filter widens
/// when downscaling) of a crop of an HWC byte image into CHW float planes on [0, 1].
/// </summary>
public sealed class BicubicResampler
{
    // Per-worker scratch, grown on demand; never shared between threads.
    private int[] _xStart = [], _xCount = [], _yStart = [], _yCount = [];
    private float[] _xW = [], _yW = [], _tmp = [], _rowF = [];
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
    /// <remarks>
    /// Bit-identical to the plain scalar loops it replaced (tests compare with them): every output
    /// is the same sequence of float multiplies and adds, only spread over SIMD lanes.
    /// </remarks>
    public void Resample(ReadOnlySpan<byte> src, int width, int height, int channels, CropBox box, int size, bool flip, Span<float> dst)
    {
        _xTaps = Coefficients(box.X, box.Width, width, size, ref _xStart, ref _xCount, ref _xW);
        _yTaps = Coefficients(box.Y, box.Height, height, size, ref _yStart, ref _yCount, ref _yW);
        int y0 = _yStart[0], y1 = _yStart[size - 1] + _yCount[size - 1];
        int rows = y1 - y0;
        int plane = rows * size;
        if (_tmp.Length < plane * channels) _tmp = new float[plane * channels];
        var tmp = _tmp.AsSpan(0, plane * channels);
        if ((long)dst.Length < (long)channels * size * size) throw new ArgumentException("dst is smaller than channels * size * size.", nameof(dst));
        if ((long)src.Length < (long)width * height * channels) throw new ArgumentException("src is smaller than width * height * channels.", nameof(src));

        if (channels == 3 && Vector128.IsHardwareAccelerated) HorizontalRgb(src, width, y0, rows, size, flip, tmp);
        else HorizontalScalar(src, width, channels, y0, rows, size, flip, tmp);
        Vertical(tmp, channels, y0, rows, size, dst);
    }

    /// <summary>
    /// Horizontal pass for RGB, one output pixel's three channels per 128-bit vector: the source
    /// columns the crop needs are widened to floats one row at a time (interleaved RGB, one float
    /// of padding), then each tap is one load, multiply and add over (R, G, B, next R).
    /// </summary>
    private void HorizontalRgb(ReadOnlySpan<byte> src, int width, int y0, int rows, int size, bool flip, Span<float> tmp)
    {
        const float inv255 = 1f / 255f;
        int x0 = int.MaxValue, x1 = 0;
        for (int o = 0; o < size; o++) { x0 = Math.Min(x0, _xStart[o]); x1 = Math.Max(x1, _xStart[o] + _xCount[o]); }
        int cols = x1 - x0, n3 = cols * 3;
        if (_rowF.Length < n3 + 4) _rowF = new float[n3 + 4];
        _rowF.AsSpan(n3).Clear();   // the 4th lane of the last pixel reads here; it is never stored
        int plane = rows * size;
        ref float rowF = ref MemoryMarshal.GetArrayDataReference(_rowF);
        ref float w0 = ref MemoryMarshal.GetArrayDataReference(_xW);
        ref int xs0 = ref MemoryMarshal.GetArrayDataReference(_xStart);
        ref int xn0 = ref MemoryMarshal.GetArrayDataReference(_xCount);
        ref float t0 = ref MemoryMarshal.GetReference(tmp);
        var scale = Vector128.Create(inv255);
        for (int r = 0; r < rows; r++)
        {
            WidenBytes(src.Slice(((y0 + r) * width + x0) * 3, n3), _rowF);
            ref float t = ref Unsafe.Add(ref t0, r * size);
            for (int o = 0; o < size; o++)
            {
                int xs = Unsafe.Add(ref xs0, o) - x0, n = Unsafe.Add(ref xn0, o);
                ref float w = ref Unsafe.Add(ref w0, o * _xTaps);
                ref float px = ref Unsafe.Add(ref rowF, xs * 3);
                var acc = Vector128<float>.Zero;
                for (int k = 0; k < n; k++) acc += Vector128.LoadUnsafe(ref px, (nuint)(3 * k)) * Vector128.Create(Unsafe.Add(ref w, k));
                acc *= scale;
                int ox = flip ? size - 1 - o : o;
                Unsafe.Add(ref t, ox) = acc.GetElement(0);
                Unsafe.Add(ref t, plane + ox) = acc.GetElement(1);
                Unsafe.Add(ref t, 2 * plane + ox) = acc.GetElement(2);
            }
        }
    }

    /// <summary>dst[i] = src[i] as float (exact), vectorised.</summary>
    private static void WidenBytes(ReadOnlySpan<byte> src, float[] dst)
    {
        int n = src.Length, i = 0, vb = Vector<byte>.Count, vf = Vector<float>.Count;
        if (dst.Length < n) throw new ArgumentException("row buffer too small", nameof(dst));
        ref byte s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetArrayDataReference(dst);
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - vb; i += vb)
            {
                var b = Vector.LoadUnsafe(ref s, (nuint)i);
                Vector.Widen(b, out Vector<ushort> lo, out Vector<ushort> hi);
                Vector.Widen(lo, out Vector<uint> a0, out Vector<uint> a1);
                Vector.Widen(hi, out Vector<uint> a2, out Vector<uint> a3);
                Vector.ConvertToSingle(a0).StoreUnsafe(ref d, (nuint)i);
                Vector.ConvertToSingle(a1).StoreUnsafe(ref d, (nuint)(i + vf));
                Vector.ConvertToSingle(a2).StoreUnsafe(ref d, (nuint)(i + 2 * vf));
                Vector.ConvertToSingle(a3).StoreUnsafe(ref d, (nuint)(i + 3 * vf));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref s, i);
    }

    /// <summary>Horizontal pass, one channel value at a time (grey images, or no SIMD).</summary>
    private void HorizontalScalar(ReadOnlySpan<byte> src, int width, int channels, int y0, int rows, int size, bool flip, Span<float> tmp)
    {
        const float inv255 = 1f / 255f;
        int plane = rows * size;
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
    }

    /// <summary>Vertical pass, vectorised along the row, clamped to [0, 1].</summary>
    private void Vertical(Span<float> tmp, int channels, int y0, int rows, int size, Span<float> dst)
    {
        int vw = Vector<float>.Count, plane = rows * size;
        ref float wy0 = ref MemoryMarshal.GetArrayDataReference(_yW);
        for (int c = 0; c < channels; c++)
        {
            ref float tp = ref MemoryMarshal.GetReference(tmp.Slice(c * plane, plane));
            var dplane = dst.Slice(c * size * size, size * size);
            for (int o = 0; o < size; o++)
            {
                int ys = _yStart[o] - y0, n = _yCount[o];
                ref float w = ref Unsafe.Add(ref wy0, o * _yTaps);
                ref float col = ref Unsafe.Add(ref tp, ys * size);
                ref float drow = ref MemoryMarshal.GetReference(dplane.Slice(o * size, size));
                int x = 0;
                for (; x <= size - vw; x += vw)
                {
                    var acc = Vector<float>.Zero;
                    ref float cx = ref Unsafe.Add(ref col, x);
                    for (int k = 0; k < n; k++) acc += Vector.LoadUnsafe(ref cx, (nuint)(k * size)) * Unsafe.Add(ref w, k);
                    Vector.Min(Vector.Max(acc, Vector<float>.Zero), Vector<float>.One).StoreUnsafe(ref drow, (nuint)x);
                }
                for (; x < size; x++)
                {
                    float acc = 0;
                    for (int k = 0; k < n; k++) acc += Unsafe.Add(ref col, k * size + x) * Unsafe.Add(ref w, k);
                    Unsafe.Add(ref drow, x) = Math.Clamp(acc, 0f, 1f);
                }
            }
        }
    }
}

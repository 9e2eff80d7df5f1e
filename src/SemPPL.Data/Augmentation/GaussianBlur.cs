using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SemPPL.Data.Augmentation;

/// <summary>Separable gaussian blur with reflect padding (torchvision gaussian_blur semantics), vectorised.</summary>
public sealed class GaussianBlur
{
    private float[] _kernel = [], _row = [], _tmp = [];
    private int[] _index = [];

    /// <summary>10% of the side, made odd, at least 3 (BYOL: 23 for 224).</summary>
    public static int KernelSize(int side)
    {
        int k = (int)(0.1 * side);
        if (k % 2 == 0) k++;
        return Math.Max(k, 3);
    }

    /// <summary>torchvision's 1-D kernel: exp(-x^2 / (2 sigma^2)) at x = -(k-1)/2 .. (k-1)/2, normalised.</summary>
    public static float[] Kernel(int k, double sigma)
    {
        var w = new float[k];
        FillKernel(w, sigma);
        return w;
    }

    private static void FillKernel(Span<float> w, double sigma)
    {
        int k = w.Length; double half = (k - 1) * 0.5, sum = 0;
        Span<double> d = stackalloc double[k];
        for (int i = 0; i < k; i++) { double x = (i - half) / sigma; d[i] = Math.Exp(-0.5 * x * x); sum += d[i]; }
        for (int i = 0; i < k; i++) w[i] = (float)(d[i] / sum);
    }

    private static int Reflect(int i, int n)
    {
        if (n == 1) return 0;
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
        return i;
    }

    /// <summary>
    /// Kernel taps below this weight are skipped: the weights sum to 1, so all skipped taps together
    /// move a result by less than ~1e-11 of the largest pixel value, far below float rounding.
    /// Small sigmas (most of BYOL's [0.1, 2] range) then need 3..15 of the 23 taps at 224 px.
    /// </summary>
    internal const float TapEpsilon = 1e-12f;

    /// <summary>Blurs every size x size plane of <paramref name="img"/> in place.</summary>
    /// <remarks>
    /// Same sums in the same order as the direct separable form (horizontal then vertical, taps
    /// in kernel order), except that taps under <see cref="TapEpsilon"/> are left out, so results
    /// equal it within float rounding (bit for bit when no tap is skipped).
    /// </remarks>
    public void Apply(Span<float> img, int channels, int size, int kernelSize, double sigma)
    {
        if (_kernel.Length != kernelSize) _kernel = new float[kernelSize];
        FillKernel(_kernel, sigma);
        int lo = 0, hi = kernelSize;
        while (hi - lo > 1 && _kernel[lo] < TapEpsilon) lo++;
        while (hi - lo > 1 && _kernel[hi - 1] < TapEpsilon) hi--;
        int r = kernelSize / 2, plane = size * size, taps = hi - lo, padded = size + taps - 1;
        if ((long)img.Length < (long)channels * plane) throw new ArgumentException("img is smaller than channels * size * size.", nameof(img));
        // Padded index i (row or column) reads source index reflect(i + lo - r).
        if (_index.Length < padded) _index = new int[padded];
        for (int i = 0; i < padded; i++) _index[i] = Reflect(i + lo - r, size);
        // Padded positions [midLo, midHi) read source index i + lo - r unreflected.
        int midLo = Math.Clamp(r - lo, 0, padded), midHi = Math.Clamp(size + r - lo, midLo, padded);
        if (_row.Length < padded) _row = new float[padded];
        if (_tmp.Length < plane) _tmp = new float[plane];
        ref float k = ref _kernel[lo];
        ref int index = ref MemoryMarshal.GetArrayDataReference(_index);
        ref float row = ref MemoryMarshal.GetArrayDataReference(_row);
        ref float tmp = ref MemoryMarshal.GetArrayDataReference(_tmp);
        int vw = Vector<float>.Count;
        for (int c = 0; c < channels; c++)
        {
            ref float p = ref MemoryMarshal.GetReference(img.Slice(c * plane, plane));
            // Horizontal: pad the row by reflection, then out[x] = sum_t k[lo + t] * row[x + t].
            for (int y = 0; y < size; y++)
            {
                ref float src = ref Unsafe.Add(ref p, y * size);
                // Reflected ends from the table; the middle (index[i] == i + lo - r) is a plain copy.
                for (int i = 0; i < midLo; i++) Unsafe.Add(ref row, i) = Unsafe.Add(ref src, Unsafe.Add(ref index, i));
                if (midHi > midLo) MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref src, midLo + lo - r), midHi - midLo).CopyTo(_row.AsSpan(midLo));
                for (int i = Math.Max(midLo, midHi); i < padded; i++) Unsafe.Add(ref row, i) = Unsafe.Add(ref src, Unsafe.Add(ref index, i));
                ref float dst = ref Unsafe.Add(ref tmp, y * size);
                int x = 0;
                for (; x <= size - vw; x += vw)
                {
                    var acc = Vector<float>.Zero;
                    ref float rx = ref Unsafe.Add(ref row, x);
                    for (int t = 0; t < taps; t++) acc += Vector.LoadUnsafe(ref rx, (nuint)t) * Unsafe.Add(ref k, t);
                    acc.StoreUnsafe(ref dst, (nuint)x);
                }
                for (; x < size; x++)
                {
                    float acc = 0;
                    for (int t = 0; t < taps; t++) acc += Unsafe.Add(ref row, x + t) * Unsafe.Add(ref k, t);
                    Unsafe.Add(ref dst, x) = acc;
                }
            }
            // Vertical: out row y = sum_t k[lo + t] * tmp row reflect(y + t + lo - r).
            for (int y = 0; y < size; y++)
            {
                ref float dst = ref Unsafe.Add(ref p, y * size);
                ref int rows = ref Unsafe.Add(ref index, y);
                int x = 0;
                for (; x <= size - vw; x += vw)
                {
                    var acc = Vector<float>.Zero;
                    ref float tx = ref Unsafe.Add(ref tmp, x);
                    for (int t = 0; t < taps; t++) acc += Vector.LoadUnsafe(ref tx, (nuint)(Unsafe.Add(ref rows, t) * size)) * Unsafe.Add(ref k, t);
                    acc.StoreUnsafe(ref dst, (nuint)x);
                }
                for (; x < size; x++)
                {
                    float acc = 0;
                    for (int t = 0; t < taps; t++) acc += Unsafe.Add(ref tmp, Unsafe.Add(ref rows, t) * size + x) * Unsafe.Add(ref k, t);
                    Unsafe.Add(ref dst, x) = acc;
                }
            }
        }
    }
}

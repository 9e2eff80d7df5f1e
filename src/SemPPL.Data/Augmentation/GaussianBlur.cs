using System.Numerics;

namespace SemPPL.Data.Augmentation;

/// <summary>Separable gaussian blur with reflect padding (torchvision gaussian_blur semantics), vectorised.</summary>
public sealed class GaussianBlur
{
    private float[] _kernel = [], _row = [], _tmp = [];

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

namespace SemPPL.GraphGen.Onnx;

/// <summary>Shape arithmetic shared by shape inference and gradient rules.</summary>
public static class Shapes
{
    /// <summary>Numpy-style broadcast of two shapes; -1 (dynamic) broadcasts like an unknown size.</summary>
    public static long[]? TryBroadcast(long[] a, long[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var o = new long[r];
        for (int i = 0; i < r; i++)
        {
            long da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            long db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da == db) o[i] = da;
            else if (da == 1) o[i] = db;
            else if (db == 1) o[i] = da;
            else if (da < 0) o[i] = db;
            else if (db < 0) o[i] = da;
            else return null;
        }
        return o;
    }

    public static int NormAxis(long axis, int rank, string op)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ShapeException($"{op}: axis {axis} is out of range for rank {rank}");
        return (int)a;
    }

    public static long Product(IEnumerable<long> dims) => dims.Aggregate(1L, (x, y) => x * y);

    public static string Str(long[] s) => $"[{string.Join(",", s)}]";

    /// <summary>Output size of a sliding window (Conv, pooling).</summary>
    public static long WindowOut(long input, long kernel, long stride, long padBegin, long padEnd, long dilation, bool ceil = false)
    {
        if (input < 0) return -1;
        long eff = (kernel - 1) * dilation + 1;
        long span = input + padBegin + padEnd - eff;
        if (span < 0) return -1;
        long o = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        // Ceil mode never starts a window in the end padding (ONNX, ORT and PyTorch agree): drop it.
        if (ceil && (o - 1) * stride >= input + padBegin) o--;
        return o;
    }
}

namespace SemPPL.GraphGen.Tests.Support;

/// <summary>
/// Independent double-precision reference implementations of forward ops, written directly from
/// the ONNX operator definitions with plain loops (no shared code with graphgen). Row-major layouts.
/// Op families add their references in partial files Reference.*.cs.
/// </summary>
public static partial class Reference
{
    public static long[] Strides(long[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    public static long[] BroadcastShape(long[] a, long[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var o = new long[r];
        for (int i = 0; i < r; i++)
        {
            long da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            long db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            o[i] = Math.Max(da, db);
        }
        return o;
    }

    /// <summary>Flat index into a (broadcast) operand for a multi-index of the output.</summary>
    public static long BroadcastIndex(long[] outIndex, long[] shape)
    {
        long idx = 0, stride = 1;
        for (int i = shape.Length - 1, j = outIndex.Length - 1; i >= 0; i--, j--)
        {
            long d = shape[i] == 1 ? 0 : outIndex[j];
            idx += d * stride;
            stride *= shape[i];
        }
        return idx;
    }

    public static long[] Unravel(long flat, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--) { idx[i] = flat % shape[i]; flat /= shape[i]; }
        return idx;
    }

    public static double[] Broadcast2(long[] sa, long[] sb, double[] a, double[] b, Func<double, double, double> f)
    {
        var so = BroadcastShape(sa, sb);
        long n = so.Aggregate(1L, (x, y) => x * y);
        var o = new double[n];
        for (long k = 0; k < n; k++)
        {
            var idx = Unravel(k, so);
            o[k] = f(a[BroadcastIndex(idx, sa)], b[BroadcastIndex(idx, sb)]);
        }
        return o;
    }
}

namespace SemPPL.GraphGen.Tests.Support;

// Double-precision references for elementwise math, matrix products, softmax and selection ops,
// written from the ONNX operator definitions with plain loops.
public static partial class Reference
{
    /// <summary>Numpy broadcast of any number of operands through an elementwise function.</summary>
    public static double[] BroadcastN(long[][] shapes, double[][] data, Func<double[], double> f)
    {
        var so = shapes.Aggregate(Array.Empty<long>(), BroadcastShape);
        long n = so.Aggregate(1L, (x, y) => x * y);
        var o = new double[n];
        var args = new double[shapes.Length];
        for (long k = 0; k < n; k++)
        {
            var idx = Unravel(k, so);
            for (int j = 0; j < shapes.Length; j++) args[j] = data[j][BroadcastIndex(idx, shapes[j])];
            o[k] = f(args);
        }
        return o;
    }

    /// <summary>Numpy matmul: 1-D operands are promoted ([K] -> [1,K] on the left, [K,1] on the right), batch axes broadcast.</summary>
    public static double[] MatMul(long[] sa, long[] sb, double[] a, double[] b)
    {
        long[] pa = sa.Length == 1 ? [1, sa[0]] : sa;
        long[] pb = sb.Length == 1 ? [sb[0], 1] : sb;
        long m = pa[^2], k = pa[^1], n = pb[^1];
        if (pb[^2] != k) throw new ArgumentException("MatMul reference: inner dimensions differ");
        long[] ba = pa[..^2], bb = pb[..^2];
        var batch = BroadcastShape(ba, bb);
        long nb = batch.Aggregate(1L, (x, y) => x * y);
        var o = new double[nb * m * n];
        for (long t = 0; t < nb; t++)
        {
            var bi = Unravel(t, batch);
            long offA = BroadcastIndex(bi, ba) * m * k, offB = BroadcastIndex(bi, bb) * k * n;
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                {
                    double s = 0;
                    for (long q = 0; q < k; q++) s += a[offA + i * k + q] * b[offB + q * n + j];
                    o[t * m * n + i * n + j] = s;
                }
        }
        return o;
    }

    /// <summary>Gemm: alpha op(A) op(B) + beta C, C broadcast to [M, N] (C may be null).</summary>
    public static double[] Gemm(long[] sa, long[] sb, long[]? sc, double[] a, double[] b, double[]? c,
        bool transA, bool transB, double alpha, double beta)
    {
        long m = transA ? sa[1] : sa[0], k = transA ? sa[0] : sa[1];
        long n = transB ? sb[0] : sb[1];
        double A(long i, long q) => transA ? a[q * sa[1] + i] : a[i * sa[1] + q];
        double B(long q, long j) => transB ? b[j * sb[1] + q] : b[q * sb[1] + j];
        var o = new double[m * n];
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
            {
                double s = 0;
                for (long q = 0; q < k; q++) s += A(i, q) * B(q, j);
                s *= alpha;
                if (c is not null) s += beta * c[BroadcastIndex([i, j], sc!)];
                o[i * n + j] = s;
            }
        return o;
    }

    /// <summary>Softmax (or log-softmax) along one axis.</summary>
    public static double[] Softmax(long[] shape, double[] x, int axis, bool log = false)
    {
        if (axis < 0) axis += shape.Length;
        long outer = shape.Take(axis).Aggregate(1L, (p, q) => p * q);
        long len = shape[axis];
        long inner = shape.Skip(axis + 1).Aggregate(1L, (p, q) => p * q);
        var o = new double[x.Length];
        for (long u = 0; u < outer; u++)
            for (long v = 0; v < inner; v++)
            {
                long At(long i) => (u * len + i) * inner + v;
                double mx = double.NegativeInfinity;
                for (long i = 0; i < len; i++) mx = Math.Max(mx, x[At(i)]);
                double s = 0;
                for (long i = 0; i < len; i++) s += Math.Exp(x[At(i)] - mx);
                for (long i = 0; i < len; i++)
                    o[At(i)] = log ? x[At(i)] - mx - Math.Log(s) : Math.Exp(x[At(i)] - mx) / s;
            }
        return o;
    }

    /// <summary>ReduceMax over axes (null = all); the flat output order is the same with or without keepdims.</summary>
    public static double[] ReduceMax(long[] shape, double[] x, long[]? axes)
    {
        var set = (axes ?? Enumerable.Range(0, shape.Length).Select(i => (long)i).ToArray())
            .Select(a => a < 0 ? a + shape.Length : a).ToHashSet();
        var keep = shape.Select((d, i) => set.Contains(i) ? 1 : d).ToArray();
        var o = Enumerable.Repeat(double.NegativeInfinity, (int)keep.Aggregate(1L, (p, q) => p * q)).ToArray();
        var ks = Strides(keep);
        for (long f = 0; f < x.Length; f++)
        {
            var idx = Unravel(f, shape);
            long t = 0;
            for (int i = 0; i < shape.Length; i++) if (!set.Contains(i)) t += idx[i] * ks[i];
            o[t] = Math.Max(o[t], x[f]);
        }
        return o;
    }

    /// <summary>Sum of squares over axes (null = all); the flat output order is the same with or without keepdims.</summary>
    public static double[] ReduceSumSquare(long[] shape, double[] x, long[]? axes)
    {
        var set = (axes ?? Enumerable.Range(0, shape.Length).Select(i => (long)i).ToArray())
            .Select(a => a < 0 ? a + shape.Length : a).ToHashSet();
        var keep = shape.Select((d, i) => set.Contains(i) ? 1 : d).ToArray();
        var o = new double[keep.Aggregate(1L, (p, q) => p * q)];
        var ks = Strides(keep);
        for (long f = 0; f < x.Length; f++)
        {
            var idx = Unravel(f, shape);
            long t = 0;
            for (int i = 0; i < shape.Length; i++) if (!set.Contains(i)) t += idx[i] * ks[i];
            o[t] += x[f] * x[f];
        }
        return o;
    }

    /// <summary>Where(cond, x, y) with broadcasting; cond holds 0/1.</summary>
    public static double[] Where(long[] sc, long[] sx, long[] sy, double[] c, double[] x, double[] y) =>
        BroadcastN([sc, sx, sy], [c, x, y], v => v[0] != 0 ? v[1] : v[2]);

    public static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
}

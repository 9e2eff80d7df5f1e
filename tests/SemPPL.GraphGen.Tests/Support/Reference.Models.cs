namespace SemPPL.GraphGen.Tests.Support;

/// <summary>
/// Independent double-precision references for the model tests (plain loops, NCHW, no graphgen code):
/// conv, inference BatchNorm, ReLU, residual blocks, the SK conv, the MLP head.
/// A tensor here is (double[] Data, long[] Shape).
/// </summary>
public static class ModelReference
{
    public sealed record T(double[] D, long[] S)
    {
        public long N => S[0];
        public long C => S[1];
        public long H => S[2];
        public long W => S[3];
    }

    public static T Conv(T x, T w, long stride, long pad)
    {
        long n = x.N, c = x.C, h = x.H, wd = x.W, m = w.S[0], k = w.S[2];
        if (w.S[1] != c) throw new ArgumentException("conv channels");
        long ho = (h + 2 * pad - k) / stride + 1, wo = (wd + 2 * pad - k) / stride + 1;
        var o = new double[n * m * ho * wo];
        for (long b = 0; b < n; b++)
            for (long oc = 0; oc < m; oc++)
                for (long i = 0; i < ho; i++)
                    for (long j = 0; j < wo; j++)
                    {
                        double acc = 0;
                        for (long ic = 0; ic < c; ic++)
                            for (long ki = 0; ki < k; ki++)
                                for (long kj = 0; kj < k; kj++)
                                {
                                    long yi = i * stride - pad + ki, xj = j * stride - pad + kj;
                                    if (yi < 0 || yi >= h || xj < 0 || xj >= wd) continue;
                                    acc += x.D[((b * c + ic) * h + yi) * wd + xj] * w.D[((oc * c + ic) * k + ki) * k + kj];
                                }
                        o[((b * m + oc) * ho + i) * wo + j] = acc;
                    }
        return new T(o, [n, m, ho, wo]);
    }

    /// <summary>Per-channel (axis 1) inference BatchNorm for rank 2 or 4.</summary>
    public static T BatchNorm(T x, double[] gamma, double[] beta, double[] mean, double[] var, double eps)
    {
        long c = x.S[1], inner = x.S.Skip(2).Aggregate(1L, (a, d) => a * d);
        var o = new double[x.D.Length];
        for (long i = 0; i < o.Length; i++)
        {
            long ch = i / inner % c;
            o[i] = (x.D[i] - mean[ch]) / Math.Sqrt(var[ch] + eps) * gamma[ch] + beta[ch];
        }
        return new T(o, x.S);
    }

    public static T Relu(T x) => new(x.D.Select(v => Math.Max(0, v)).ToArray(), x.S);

    public static T Add(T a, T b)
    {
        if (!a.S.SequenceEqual(b.S)) throw new ArgumentException("add shapes");
        return new T(a.D.Zip(b.D, (p, q) => p + q).ToArray(), a.S);
    }

    /// <summary>x [N, in] times w^T (w [out, in]) plus optional bias.</summary>
    public static T Linear(T x, double[] w, long outF, double[]? bias)
    {
        long n = x.S[0], inF = x.S[1];
        var o = new double[n * outF];
        for (long b = 0; b < n; b++)
            for (long j = 0; j < outF; j++)
            {
                double acc = bias?[j] ?? 0;
                for (long i = 0; i < inF; i++) acc += x.D[b * inF + i] * w[j * inF + i];
                o[b * outF + j] = acc;
            }
        return new T(o, [n, outF]);
    }

    /// <summary>Channels [from, from + count) of an NCHW tensor.</summary>
    public static T Channels(T x, long from, long count)
    {
        long hw = x.H * x.W;
        var o = new double[x.N * count * hw];
        for (long b = 0; b < x.N; b++)
            for (long ch = 0; ch < count; ch++)
                for (long p = 0; p < hw; p++)
                    o[(b * count + ch) * hw + p] = x.D[(b * x.C + from + ch) * hw + p];
        return new T(o, [x.N, count, x.H, x.W]);
    }

    /// <summary>Mean over H, W: [N, C].</summary>
    public static T SpatialMean(T x)
    {
        long hw = x.H * x.W;
        var o = new double[x.N * x.C];
        for (long i = 0; i < o.Length; i++)
        {
            double s = 0;
            for (long p = 0; p < hw; p++) s += x.D[i * hw + p];
            o[i] = s / hw;
        }
        return new T(o, [x.N, x.C]);
    }

    /// <summary>Parameters of one BN: gamma, beta, running mean, running var.</summary>
    public sealed record Bn(double[] Gamma, double[] Beta, double[] Mean, double[] Var);
}

namespace SemPPL.GraphGen.Tests.Objective;

/// <summary>
/// Independent double-precision reference of the SemPPL objective, written from docs/method.md
/// ("The objective") with plain loops and no code shared with graphgen.
/// Layouts are row-major: online [V, B, D], target [L, B, D], negatives [L, B, nNeg],
/// positives [B, nSp, D], mask [B].
/// </summary>
public static class ObjectiveReference
{
    public sealed record Parts(double Augmentation, double SemanticPositive, double InvarianceAugmentation, double InvarianceSemanticPositive, double Total)
    {
        public double Invariance => InvarianceAugmentation + InvarianceSemanticPositive;
    }

    public sealed record Problem(int L, int S, int B, int D, int NNeg, int NSp,
        double[] Online, double[] Target, long[] Negatives, double[] Positives, double[] Mask)
    {
        public int V => L + S;
    }

    public static double[] Normalize(double[] x, int d)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / d; r++)
        {
            double ss = 0;
            for (int k = 0; k < d; k++) ss += x[r * d + k] * x[r * d + k];
            double n = Math.Sqrt(ss);
            for (int k = 0; k < d; k++) y[r * d + k] = x[r * d + k] / n;
        }
        return y;
    }

    private static double[] Vec(double[] a, int row, int d) => a.AsSpan(row * d, d).ToArray();

    private static double Phi(double[] a, double[] b)
    {
        double s = 0;
        for (int k = 0; k < a.Length; k++) s += a[k] * b[k];
        return s;
    }

    /// <summary>l(p, z+, N) = -log( exp(phi(p,z+)/tau) / (exp(phi(p,z+)/tau) + sum_n exp(phi(p,n)/tau)) ).</summary>
    public static double Contrastive(double[] p, double[] pos, IEnumerable<double[]> negs, double tau)
    {
        double ePos = Math.Exp(Phi(p, pos) / tau);
        double den = ePos;
        foreach (var n in negs) den += Math.Exp(Phi(p, n) / tau);
        return -Math.Log(ePos / den);
    }

    /// <summary>Softmax over the candidates {pos} U N (positive first, negatives in order) of phi(p, .)/tau.</summary>
    public static double[] Distribution(double[] p, double[] pos, IReadOnlyList<double[]> negs, double tau)
    {
        var e = new double[1 + negs.Count];
        e[0] = Math.Exp(Phi(p, pos) / tau);
        for (int k = 0; k < negs.Count; k++) e[1 + k] = Math.Exp(Phi(p, negs[k]) / tau);
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    public static double Kl(double[] p, double[] q)
    {
        double s = 0;
        for (int c = 0; c < p.Length; c++) s += p[c] * Math.Log(p[c] / q[c]);
        return s;
    }

    /// <summary>
    /// The loss parts. <paramref name="online"/> are unit vectors p (normalise first for raw inputs).
    /// The stop-gradient side of each KL (P^{a,b}) is computed from <paramref name="frozenOnline"/>
    /// (default: the same p), so finite differences of this function give the stop-gradient derivative.
    /// </summary>
    public static Parts Compute(Problem pr, double[] online, double tau, double c, double alpha, double lambda, double[]? frozenOnline = null)
    {
        frozenOnline ??= online;
        int L = pr.L, V = pr.V, B = pr.B, D = pr.D;
        double[] P(double[] src, int m, int i) => Vec(src, m * B + i, D);
        double[] Z(int l, int j) => Vec(pr.Target, l * B + j, D);
        double[] Q(int i, int s) => Vec(pr.Positives, i * pr.NSp + s, D);
        List<double[]> Negs(int l, int i)
        {
            var list = new List<double[]>();
            for (int k = 0; k < pr.NNeg; k++) list.Add(Z(l, (int)pr.Negatives[(l * B + i) * pr.NNeg + k]));
            return list;
        }

        // L_augm: mean over i, m in V, l in L.
        double augm = 0; int nAugm = 0;
        for (int i = 0; i < B; i++)
            for (int m = 0; m < V; m++)
                for (int l = 0; l < L; l++) { augm += Contrastive(P(online, m, i), Z(l, i), Negs(l, i), tau); nAugm++; }
        augm /= nAugm;

        // L_sempos: mean over images with a positive, m, l, s.
        double sempos = 0; int nSempos = 0;
        for (int i = 0; i < B; i++)
        {
            if (pr.Mask[i] == 0) continue;
            for (int m = 0; m < V; m++)
                for (int l = 0; l < L; l++)
                    for (int s = 0; s < pr.NSp; s++) { sempos += Contrastive(P(online, m, i), Q(i, s), Negs(l, i), tau); nSempos++; }
        }
        sempos = nSempos == 0 ? 0 : sempos / nSempos;

        // I_augm: KL(sg(P_i^{a,b}) || P_i^{b,a}) over images and ordered pairs of distinct large views.
        double iAugm = 0; int nIAugm = 0;
        for (int i = 0; i < B; i++)
            for (int a = 0; a < L; a++)
                for (int b = 0; b < L; b++)
                {
                    if (a == b) continue;
                    var pab = Distribution(P(frozenOnline, a, i), Z(b, i), Negs(b, i), tau);
                    var pba = Distribution(P(online, b, i), Z(a, i), Negs(a, i), tau);
                    iAugm += Kl(pab, pba); nIAugm++;
                }
        iAugm = nIAugm == 0 ? 0 : iAugm / nIAugm;

        // I_sempos: the same with the positive replaced by each semantic positive Q_s.
        double iSempos = 0; int nISempos = 0;
        for (int i = 0; i < B; i++)
        {
            if (pr.Mask[i] == 0) continue;
            for (int a = 0; a < L; a++)
                for (int b = 0; b < L; b++)
                {
                    if (a == b) continue;
                    for (int s = 0; s < pr.NSp; s++)
                    {
                        var pab = Distribution(P(frozenOnline, a, i), Q(i, s), Negs(b, i), tau);
                        var pba = Distribution(P(online, b, i), Q(i, s), Negs(a, i), tau);
                        iSempos += Kl(pab, pba); nISempos++;
                    }
                }
        }
        iSempos = nISempos == 0 ? 0 : iSempos / nISempos;

        double total = c * (augm + alpha * sempos) + lambda * (iAugm + iSempos);
        return new Parts(augm, sempos, iAugm, iSempos, total);
    }

    /// <summary>
    /// A separate, plain InfoNCE with the sampled negatives (the ReLIC-without-KL baseline):
    /// mean over (m, i, l) of logsumexp(s_pos, s_negs) - s_pos, s = p . z / tau.
    /// </summary>
    public static double InfoNce(Problem pr, double[] online, double tau)
    {
        double total = 0;
        int count = 0;
        for (int m = 0; m < pr.V; m++)
            for (int i = 0; i < pr.B; i++)
                for (int l = 0; l < pr.L; l++)
                {
                    var scores = new List<double>();
                    for (int j = -1; j < pr.NNeg; j++)
                    {
                        int other = j < 0 ? i : (int)pr.Negatives[(l * pr.B + i) * pr.NNeg + j];
                        double dot = 0;
                        for (int k = 0; k < pr.D; k++) dot += online[(m * pr.B + i) * pr.D + k] * pr.Target[(l * pr.B + other) * pr.D + k];
                        scores.Add(dot / tau);
                    }
                    double max = scores.Max();
                    double lse = max + Math.Log(scores.Sum(v => Math.Exp(v - max)));
                    total += lse - scores[0];
                    count++;
                }
        return total / count;
    }

    /// <summary>A random problem: unit target/positive vectors, raw online vectors, host-drawn negatives (without replacement).</summary>
    public static Problem Random(int seed, int L, int S, int B, int D, int nNeg, int nSp, double[] mask, bool nanForMissing = false)
    {
        var rng = new Random(seed);
        double[] Gauss(int n) => Enumerable.Range(0, n).Select(_ => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())).ToArray();
        int V = L + S;
        var online = Gauss(V * B * D);
        var target = Normalize(Gauss(L * B * D), D);
        var positives = Normalize(Gauss(B * nSp * D), D);
        if (nanForMissing)
            for (int i = 0; i < B; i++)
                if (mask[i] == 0)
                    for (int k = 0; k < nSp * D; k++) positives[i * nSp * D + k] = double.NaN;
        var negs = new long[L * B * nNeg];
        for (int l = 0; l < L; l++)
            for (int i = 0; i < B; i++)
            {
                var others = Enumerable.Range(0, B).Where(j => j != i).OrderBy(_ => rng.Next()).Take(nNeg).ToArray();
                for (int k = 0; k < nNeg; k++) negs[(l * B + i) * nNeg + k] = others[k];
            }
        return new Problem(L, S, B, D, nNeg, nSp, online, target, negs, positives, mask);
    }
}

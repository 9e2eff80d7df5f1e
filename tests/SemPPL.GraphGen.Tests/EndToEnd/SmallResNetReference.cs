using SemPPL.GraphGen.Tests.Support;

namespace SemPPL.GraphGen.Tests.EndToEnd;

/// <summary>
/// Independent double-precision forward of <see cref="SmallResNetSpec"/>, composed from the plain-loop
/// references in Support/Reference*.cs (Conv2d, BatchNormTraining, MaxPool2d, GlobalAvgPool, Gemm, Softmax).
/// Shares no code with graphgen. Also reports how close the data sits to a kink of ReLU or MaxPool.
/// </summary>
public static class SmallResNetReference
{
    public sealed record Result(double Loss, double[] Logits, double ReluMargin, double MaxPoolGap);

    /// <param name="p">Parameter values by name (as <see cref="SmallResNetSpec.Parameters"/>).</param>
    public static Result Forward(SmallResNetSpec spec, int batch, IReadOnlyDictionary<string, double[]> p, double[] x, long[] labels)
    {
        double reluMargin = double.PositiveInfinity;
        double[] Relu(double[] v)
        {
            foreach (var e in v) reluMargin = Math.Min(reluMargin, Math.Abs(e));
            return v.Select(e => Math.Max(0, e)).ToArray();
        }
        double[] Conv(long[] xs, double[] h, string w, int stride, out long[] ys)
        {
            var ws = spec.Parameters().First(q => q.Name == w).Shape;
            long pad = ws[2] / 2;
            return Reference.Conv2d(xs, h, ws, p[w], null, [stride, stride], [pad, pad, pad, pad], [1, 1], 1, out ys);
        }
        double[] Bn(long[] xs, double[] h, string name) =>
            Reference.BatchNormTraining(xs, h, p[name + ".scale"], p[name + ".bias"], SmallResNetSpec.BnEpsilon).Y;

        long[] shape = [batch, spec.InChannels, spec.Height, spec.Width];
        var stem = Conv(shape, x, "stem.conv.w", spec.StemStride, out shape);
        var a = Relu(Bn(shape, stem, "stem.bn"));
        double gap = MaxPoolGap(shape, a);
        var h = Reference.MaxPool2d(shape, a, [3, 3], [2, 2], [1, 1, 1, 1], out shape);
        for (int b = 0; b < spec.Blocks.Count; b++)
        {
            var blk = spec.Blocks[b]; string n = $"block{b + 1}.";
            var c1 = Conv(shape, h, n + "conv1.w", blk.Stride, out var s1);
            var t = Relu(Bn(s1, c1, n + "bn1"));
            var c2 = Conv(s1, t, n + "conv2.w", 1, out var s2);
            var m = Bn(s2, c2, n + "bn2");
            double[] shortcut = h;
            if (spec.HasProjection(b, (int)shape[1]))
            {
                var cp = Conv(shape, h, n + "proj.w", blk.Stride, out var sp);
                shortcut = Bn(sp, cp, n + "proj_bn");
            }
            h = Relu(m.Zip(shortcut, (u, v) => u + v).ToArray());
            shape = s2;
        }
        var pooled = Reference.GlobalAvgPool(shape, h);
        long c = shape[1], k = spec.Classes;
        var logits = Reference.Gemm([batch, c], [k, c], [k], pooled, p["fc.w"], p["fc.b"], transA: false, transB: true, 1, 1);
        var logProb = Reference.Softmax([batch, k], logits, 1, log: true);
        double loss = 0;
        for (int i = 0; i < batch; i++) loss -= logProb[i * k + labels[i]];
        return new Result(loss / batch, logits, reluMargin, gap);
    }

    /// <summary>
    /// Smallest gap between the largest and the second largest value of a MaxPool 3x3/2 pad 1 window whose
    /// maximum is positive (a window whose maximum is a clamped 0 passes no gradient through the ReLU before it).
    /// </summary>
    private static double MaxPoolGap(long[] xs, double[] v)
    {
        long nc = xs[0] * xs[1], h = xs[2], w = xs[3];
        long ho = Reference.PoolOut(h, 3, 2, 1, 1, false), wo = Reference.PoolOut(w, 3, 2, 1, 1, false);
        double gap = double.PositiveInfinity;
        for (long q = 0; q < nc; q++)
        for (long oy = 0; oy < ho; oy++)
        for (long ox = 0; ox < wo; ox++)
        {
            double best = double.NegativeInfinity, second = double.NegativeInfinity;
            for (long iy = oy * 2 - 1; iy < oy * 2 + 2; iy++)
            for (long ix = ox * 2 - 1; ix < ox * 2 + 2; ix++)
            {
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                double e = v[(q * h + iy) * w + ix];
                if (e > best) { second = best; best = e; }
                else if (e > second) second = e;
            }
            if (best > 0) gap = Math.Min(gap, best - second);
        }
        return gap;
    }
}

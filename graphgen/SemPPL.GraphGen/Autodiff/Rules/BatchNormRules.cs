using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// Inference-mode BatchNormalization, y = (x - mean) * r * scale + bias with r = 1/sqrt(var + eps), statistics fixed:
/// dx = dy * scale * r; dscale = sum(dy * (x - mean) * r); dbias = sum(dy); dmean = -dbias * scale * r;
/// dvar = -dscale * scale * r^2 / 2 (sums over every axis but 1). Training mode is built by Layers.BatchNorm.Training
/// (tagged with BatchNormBatchStatisticsRule below), so a training_mode = 1 node here is an error.
/// </summary>
public sealed class BatchNormalizationRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["BatchNormalization"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var node = ctx.Node; var x = ctx.X(0);
        if (node.AttrInt("training_mode", 0) != 0 || node.Outputs.Length > 1)
            throw new NotSupportedException($"{node}: training-mode BatchNormalization has no gradient rule; build it with Layers.BatchNorm.Training");
        if (x.Rank < 2) throw new NotSupportedException($"{node}: input must be N,C,...");
        var dy = ctx.OutputGrad()!;
        float eps = node.AttrFloat("epsilon", 1e-5f);
        long c = x.Shape[1];
        long[] paramShape = x.Shape.Select((d, i) => i == 1 ? c : 1L).ToArray();
        long[] axes = Enumerable.Range(0, x.Rank).Where(i => i != 1).Select(i => (long)i).ToArray();
        Value scale = ctx.X(1), mean = ctx.X(3), variance = ctx.X(4);
        Value Col(Value v) => g.Reshape(v, paramShape);

        var r = g.Reciprocal(g.Sqrt(g.Add(variance, eps)));  // [C]
        var sr = g.Mul(scale, r);                             // [C]
        if (ctx.NeedsGrad(0)) ctx.AddGrad(0, g.Mul(dy, Col(sr)));
        bool wantScale = ctx.NeedsGrad(1), wantBias = ctx.NeedsGrad(2), wantMean = ctx.NeedsGrad(3), wantVar = ctx.NeedsGrad(4);
        if (wantScale || wantVar)
        {
            var dyXhatSum = g.ReduceSum(g.Mul(dy, g.Mul(g.Sub(x, Col(mean)), Col(r))), axes); // [C]
            if (wantScale) ctx.AddGrad(1, dyXhatSum);
            if (wantVar) ctx.AddGrad(4, g.Mul(g.Mul(dyXhatSum, g.Mul(sr, r)), -0.5f));
        }
        if (wantBias || wantMean)
        {
            var dySum = g.ReduceSum(dy, axes); // [C]
            if (wantBias) ctx.AddGrad(2, dySum);
            if (wantMean) ctx.AddGrad(3, g.Neg(g.Mul(dySum, sr)));
        }
    }
}

/// <summary>
/// Closed-form backward of training-mode BatchNorm as built by Layers.BatchNorm.Training: the tagged node is an
/// inference-mode BatchNormalization of the centred input c = x - mean(x) with mean 0 and the batch's biased variance,
/// both stop-gradient, so this rule supplies the whole derivative with respect to x, through the statistics:
/// with r = 1/sqrt(var + eps), a = scale * r, n the count per channel and sums over every axis but 1,
///   dbias = sum(dy); dscale = r * sum(dy * c);
///   dc = a * dy - a * dbias / n - c * a * r^2 * sum(dy * c) / n   (= a * (dy - mean(dy) - xhat * mean(dy * xhat))).
/// The a * dy + const part and the c * k part are fused per-channel affines (Layers.BatchNorm.ChannelAffine): 3 full-size
/// passes for dc plus 2 reductions, where differentiating the decomposed statistics op by op took about 12.
/// </summary>
public sealed class BatchNormBatchStatisticsRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => [Layers.BatchNorm.BatchStatisticsRule];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var node = ctx.Node; var c = ctx.X(0);
        if (node.OpType != "BatchNormalization" || node.AttrInt("training_mode", 0) != 0 || c.Rank < 3)
            throw new NotSupportedException($"{node}: the {Layers.BatchNorm.BatchStatisticsRule} rule applies to the inference-mode BatchNormalization of Layers.BatchNorm.Training");
        foreach (int i in new[] { 3, 4 })
            if (ctx.NeedsGrad(i)) throw new NotSupportedException($"{node}: input {i} ('{ctx.X(i).Name}') must be a stop-gradient batch statistic");
        var dy = ctx.OutputGrad()!;
        float eps = node.AttrFloat("epsilon", 1e-5f);
        long ch = c.Shape[1];
        long[] axes = Enumerable.Range(0, c.Rank).Where(i => i != 1).Select(i => (long)i).ToArray();
        float n = axes.Aggregate(1L, (p, i) => p * c.Shape[i]);
        Value scale = ctx.X(1), variance = ctx.X(4);

        var r = g.Reciprocal(g.Sqrt(g.Add(variance, eps)));    // [C]
        var dbias = g.ReduceSum(dy, axes);                     // [C]
        var sumDyC = g.ReduceSum(g.Mul(dy, c), axes);          // [C]
        if (ctx.NeedsGrad(2)) ctx.AddGrad(2, dbias);
        if (ctx.NeedsGrad(1)) ctx.AddGrad(1, g.Mul(sumDyC, r));
        if (!ctx.NeedsGrad(0)) return;
        var a = g.Mul(scale, r);                                                   // [C]
        var b = g.Mul(dbias, g.Mul(a, -1f / n));                                   // [C]
        var k = g.Mul(sumDyC, g.Mul(g.Mul(a, g.Mul(r, r)), -1f / n));              // [C]
        // c * k as a second fused affine, not a broadcasting Mul by k as [1, C, 1, 1]: the same float products (the
        // affine's scale is k exactly, its shift 0), in ORT's BatchNormalization kernel, several times faster on the CPU
        ctx.AddGrad(0, g.Add(Layers.BatchNorm.ChannelAffine(g, dy, a, b), Layers.BatchNorm.ChannelAffine(g, c, k, g.Zeros(c.Type, ch))));
    }
}

/// <summary>Per-channel shift built by Layers.BatchNorm.Shift (a BatchNormalization with scale 1, mean 0, var + eps = 1): dx = dy, dshift = sum(dy).</summary>
public sealed class ChannelShiftRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => [Layers.BatchNorm.ShiftRule];

    public void Backward(GradientContext ctx)
    {
        var node = ctx.Node; var x = ctx.X(0);
        if (node.OpType != "BatchNormalization" || x.Rank < 3)
            throw new NotSupportedException($"{node}: the {Layers.BatchNorm.ShiftRule} rule applies to the node of Layers.BatchNorm.Shift");
        foreach (int i in new[] { 1, 3, 4 })
            if (ctx.NeedsGrad(i)) throw new NotSupportedException($"{node}: input {i} ('{ctx.X(i).Name}') must be a constant of Layers.BatchNorm.Shift");
        var dy = ctx.OutputGrad()!;
        if (ctx.NeedsGrad(0)) ctx.AddGrad(0, dy);
        if (ctx.NeedsGrad(2)) ctx.AddGrad(2, ctx.G.ReduceSum(dy, Enumerable.Range(0, x.Rank).Where(i => i != 1).Select(i => (long)i).ToArray()));
    }
}

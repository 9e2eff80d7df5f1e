using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// Inference-mode BatchNormalization, y = (x - mean) * r * scale + bias with r = 1/sqrt(var + eps), statistics fixed:
/// dx = dy * scale * r; dscale = sum(dy * (x - mean) * r); dbias = sum(dy); dmean = -dbias * scale * r;
/// dvar = -dscale * scale * r^2 / 2 (sums over every axis but 1). Training mode is decomposed into primitives by
/// Layers.BatchNorm.Training, so a training_mode = 1 node here is an error.
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

using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Optimizers;

/// <summary>
/// AdamW with torch.optim.AdamW semantics (amsgrad off); decoupled weight decay only on
/// parameters not excluded from it. With t = <c>step</c> (1-based):
/// <code>
///   w = w * (1 - lr * wd)
///   m' = b1 * m + (1 - b1) * g
///   v' = b2 * v + (1 - b2) * g^2
///   w' = w - (lr / (1 - b1^t)) * m' / (sqrt(v') / sqrt(1 - b2^t) + eps)
/// </code>
/// Inputs: <c>lr</c>, <c>step</c>, <c>param.&lt;n&gt;</c>, <c>grad.&lt;n&gt;</c>, <c>state.m.&lt;n&gt;</c>, <c>state.v.&lt;n&gt;</c>.
/// Outputs: <c>new.param.&lt;n&gt;</c>, <c>new.state.m.&lt;n&gt;</c>, <c>new.state.v.&lt;n&gt;</c>.
/// </summary>
public static class AdamWOptimizerGraph
{
    public static BuiltGraph Build(IReadOnlyList<OptimizerParameter> parameters, double beta1, double beta2, double eps, double weightDecay)
    {
        var c = new OptimizerGraphContext("optimizer_adamw", parameters, withStep: true);
        var g = c.G;
        g.DocString = $"AdamW (torch semantics): betas ({beta1}, {beta2}), eps {eps}, weight decay {weightDecay}";
        // Bias corrections, shared by every parameter.
        var (stepSize, sqrtBc2) = g.InScope("bias_correction/", () =>
        {
            var bc1 = g.Sub(g.Scalar(1f), g.Pow(g.Scalar((float)beta1), c.Step!));
            var bc2 = g.Sub(g.Scalar(1f), g.Pow(g.Scalar((float)beta2), c.Step!));
            return (g.Div(c.Lr, bc1), g.Sqrt(bc2));
        });
        var decay = weightDecay != 0 ? g.Sub(g.Scalar(1f), g.Mul(c.Lr, (float)weightDecay)) : null;
        foreach (var p in parameters)
        {
            var (w, grad) = c.ParamAndGrad(p);
            var m = c.StateInput(ArtifactNames.AdamMSlot, p);
            var v = c.StateInput(ArtifactNames.AdamVSlot, p);
            g.InScope(p.Name + "/", () =>
            {
                var wd = !p.ExcludeFromWeightDecay && decay is not null ? g.Mul(w, decay) : w;
                var m2 = g.Add(g.Mul(m, (float)beta1), g.Mul(grad, (float)(1 - beta1)));
                var v2 = g.Add(g.Mul(v, (float)beta2), g.Mul(g.Mul(grad, grad), (float)(1 - beta2)));
                var denom = g.Add(g.Div(g.Sqrt(v2), sqrtBc2), (float)eps);
                var w2 = g.Sub(wd, g.Mul(g.Div(m2, denom), stepSize));
                c.OutputParam(p, w2);
                c.OutputState(ArtifactNames.AdamMSlot, p, m2);
                c.OutputState(ArtifactNames.AdamVSlot, p, v2);
                return 0;
            });
        }
        return c.Finish();
    }
}

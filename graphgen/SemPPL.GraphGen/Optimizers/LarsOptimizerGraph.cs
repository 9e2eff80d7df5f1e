using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Optimizers;

/// <summary>
/// LARS as in BYOL (optax chain: add_weight_decay, scale_by_lars, scale_by_learning_rate).
/// Per parameter w with gradient g and momentum m:
/// <code>
///   u = g + wd * w                       (skipped when ExcludeFromWeightDecay)
///   trust = eta * ||w|| / ||u||  if ||w|| > 0 and ||u|| > 0, else 1   (skipped when ExcludeFromLars)
///   u = trust * u
///   m' = momentum * m + u
///   w' = w - lr * m'
/// </code>
/// Inputs: <c>lr</c> float[], <c>param.&lt;n&gt;</c>, <c>grad.&lt;n&gt;</c>, <c>state.momentum.&lt;n&gt;</c>.
/// Outputs: <c>new.param.&lt;n&gt;</c>, <c>new.state.momentum.&lt;n&gt;</c>.
/// </summary>
public static class LarsOptimizerGraph
{
    public static BuiltGraph Build(IReadOnlyList<OptimizerParameter> parameters, double momentum, double weightDecay, double trustCoefficient)
    {
        var c = new OptimizerGraphContext("optimizer_lars", parameters, withStep: false);
        var g = c.G;
        g.DocString = $"LARS (BYOL): momentum {momentum}, weight decay {weightDecay}, trust coefficient {trustCoefficient}";
        foreach (var p in parameters)
        {
            var (w, grad) = c.ParamAndGrad(p);
            var m = c.StateInput(ArtifactNames.MomentumSlot, p);
            g.InScope(p.Name + "/", () =>
            {
                var u = grad;
                if (!p.ExcludeFromWeightDecay && weightDecay != 0)
                    u = g.Add(u, g.Mul(w, (float)weightDecay));
                if (!p.ExcludeFromLars)
                {
                    var wn = c.Norm(w);
                    var un = c.Norm(u);
                    var zero = g.Scalar(0f);
                    var both = g.And(g.Greater(wn, zero), g.Greater(un, zero));
                    // The unselected branch may be inf/nan when ||u|| = 0; Where does not propagate it.
                    var ratio = g.Div(g.Mul(wn, (float)trustCoefficient), un);
                    var trust = g.Where(both, ratio, g.Scalar(1f));
                    u = g.Mul(u, trust);
                }
                var m2 = g.Add(g.Mul(m, (float)momentum), u);
                var w2 = g.Sub(w, g.Mul(m2, c.Lr));
                c.OutputParam(p, w2);
                c.OutputState(ArtifactNames.MomentumSlot, p, m2);
                return 0;
            });
        }
        return c.Finish();
    }
}

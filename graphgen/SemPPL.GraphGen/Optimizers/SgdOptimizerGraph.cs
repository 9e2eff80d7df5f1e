using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Optimizers;

/// <summary>
/// SGD with torch.optim.SGD semantics (dampening 0), weight decay only on parameters not excluded:
/// <code>
///   d = g + wd * w                        (skipped when ExcludeFromWeightDecay)
///   b' = momentum * b + d                 (torch's first step b = d equals this with b = 0)
///   d = nesterov ? d + momentum * b' : b'
///   w' = w - lr * d
/// </code>
/// With momentum 0 there is no state (and nesterov must be false).
/// Inputs: <c>lr</c>, <c>param.&lt;n&gt;</c>, <c>grad.&lt;n&gt;</c>, <c>state.momentum.&lt;n&gt;</c> (momentum != 0).
/// Outputs: <c>new.param.&lt;n&gt;</c>, <c>new.state.momentum.&lt;n&gt;</c> (momentum != 0).
/// </summary>
public static class SgdOptimizerGraph
{
    public static BuiltGraph Build(IReadOnlyList<OptimizerParameter> parameters, double momentum, double weightDecay, bool nesterov)
    {
        if (nesterov && momentum <= 0) throw new ArgumentException("Nesterov momentum requires momentum > 0");
        var c = new OptimizerGraphContext("optimizer_sgd", parameters, withStep: false);
        var g = c.G;
        g.DocString = $"SGD (torch semantics): momentum {momentum}, nesterov {nesterov}, weight decay {weightDecay}";
        foreach (var p in parameters)
        {
            var (w, grad) = c.ParamAndGrad(p);
            var b = momentum != 0 ? c.StateInput(ArtifactNames.MomentumSlot, p) : null;
            g.InScope(p.Name + "/", () =>
            {
                var d = grad;
                if (!p.ExcludeFromWeightDecay && weightDecay != 0)
                    d = g.Add(d, g.Mul(w, (float)weightDecay));
                if (b is not null)
                {
                    var b2 = g.Add(g.Mul(b, (float)momentum), d);
                    d = nesterov ? g.Add(d, g.Mul(b2, (float)momentum)) : b2;
                    c.OutputState(ArtifactNames.MomentumSlot, p, b2);
                }
                c.OutputParam(p, g.Sub(w, g.Mul(d, c.Lr)));
                return 0;
            });
        }
        return c.Finish();
    }
}

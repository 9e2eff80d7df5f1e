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
/// The trust ratios of all LARS parameters are computed at once on [P] vectors of squared norms (one Concat, 8
/// element-wise nodes and one Split instead of 8 scalar nodes per parameter): the graph's cost is ORT's per-node
/// overhead on small models (the quickstart's 62 parameters took 663 nodes, about 5 ms a step on 2 cores).
/// </summary>
public static class LarsOptimizerGraph
{
    public static BuiltGraph Build(IReadOnlyList<OptimizerParameter> parameters, double momentum, double weightDecay, double trustCoefficient)
    {
        var c = new OptimizerGraphContext("optimizer_lars", parameters, withStep: false);
        var g = c.G;
        g.DocString = $"LARS (BYOL): momentum {momentum}, weight decay {weightDecay}, trust coefficient {trustCoefficient}";
        var updates = new List<(OptimizerParameter P, Value W, Value U, Value M, int Trust)>(); // Trust: its ratio's index, or -1
        var (wSquares, uSquares) = (new List<Value>(), new List<Value>());
        foreach (var p in parameters)
        {
            var (w, grad) = c.ParamAndGrad(p);
            var m = c.StateInput(ArtifactNames.MomentumSlot, p);
            g.InScope(p.Name + "/", () =>
            {
                var u = grad;
                if (!p.ExcludeFromWeightDecay && weightDecay != 0)
                    u = g.Add(u, g.Mul(w, (float)weightDecay));
                int trustIndex = p.ExcludeFromLars ? -1 : wSquares.Count;
                if (!p.ExcludeFromLars)
                {
                    wSquares.Add(SquaredNorm(g, w));
                    uSquares.Add(SquaredNorm(g, u));
                }
                updates.Add((p, w, u, m, trustIndex));
                return 0;
            });
        }
        var trust = wSquares.Count == 0 ? [] : g.InScope("trust/", () =>
        {
            var wn = g.Sqrt(g.Concat(wSquares, 0));
            var un = g.Sqrt(g.Concat(uSquares, 0));
            var zero = g.Scalar(0f);
            var both = g.And(g.Greater(wn, zero), g.Greater(un, zero));
            // The unselected branch may be inf/nan where ||u|| = 0; Where does not propagate it.
            var ratio = g.Div(g.Mul(wn, (float)trustCoefficient), un);
            var all = g.Where(both, ratio, g.Scalar(1f));
            return wSquares.Count == 1 ? [all] : g.Split(all, 0, Enumerable.Repeat(1L, wSquares.Count).ToArray());
        });
        foreach (var (p, w, update, m, trustIndex) in updates)
        {
            g.InScope(p.Name + "/", () =>
            {
                var u = trustIndex >= 0 ? g.Mul(update, trust[trustIndex]) : update;
                var m2 = g.Add(g.Mul(m, (float)momentum), u);
                var w2 = g.Sub(w, g.Mul(m2, c.Lr));
                c.OutputParam(p, w2);
                c.OutputState(ArtifactNames.MomentumSlot, p, m2);
                return 0;
            });
        }
        return c.Finish();
    }

    /// <summary>||x||^2 as a [1] vector (for the Concat of all parameters' norms).</summary>
    private static Value SquaredNorm(GraphBuilder g, Value x) => g.Reshape(g.ReduceSum(g.Mul(x, x)), 1);
}

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
/// On small models the graph's cost is ORT's per-node overhead, not the arithmetic (the quickstart's 62 parameters took
/// 663 nodes, about 5 ms a step on 2 cores), so: the trust ratios of all LARS parameters are computed at once on [P]
/// vectors of squared norms (one Concat, 8 element-wise nodes and one Split instead of 8 scalar nodes per parameter),
/// and the 1-D parameters outside LARS (BatchNorm scales and shifts, biases) are updated as one
/// <see cref="VectorBatch"/> per weight-decay setting. The float results are the same as per parameter.
/// </summary>
public static class LarsOptimizerGraph
{
    public static BuiltGraph Build(IReadOnlyList<OptimizerParameter> parameters, double momentum, double weightDecay, double trustCoefficient)
    {
        var c = new OptimizerGraphContext("optimizer_lars", parameters, withStep: false);
        var g = c.G;
        g.DocString = $"LARS (BYOL): momentum {momentum}, weight decay {weightDecay}, trust coefficient {trustCoefficient}";
        var updates = new List<(OptimizerParameter P, Value W, Value U, Value M, int Trust)>(); // Trust: its ratio's index, or -1
        var vectors = new List<(OptimizerParameter P, Value W, Value Grad, Value M)>();
        var (wSquares, uSquares) = (new List<Value>(), new List<Value>());
        Value Decayed(OptimizerParameter p, Value w, Value grad) =>
            !p.ExcludeFromWeightDecay && weightDecay != 0 ? g.Add(grad, g.Mul(w, (float)weightDecay)) : grad;
        (Value M2, Value W2) Step(Value w, Value u, Value m)
        {
            var m2 = g.Add(g.Mul(m, (float)momentum), u);
            return (m2, g.Sub(w, g.Mul(m2, c.Lr)));
        }
        foreach (var p in parameters)
        {
            var (w, grad) = c.ParamAndGrad(p);
            var m = c.StateInput(ArtifactNames.MomentumSlot, p);
            if (p.ExcludeFromLars && p.Shape.Length == 1) { vectors.Add((p, w, grad, m)); continue; }
            g.InScope(p.Name + "/", () =>
            {
                var u = Decayed(p, w, grad);
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
                var (m2, w2) = Step(w, trustIndex >= 0 ? g.Mul(update, trust[trustIndex]) : update, m);
                c.OutputParam(p, w2);
                c.OutputState(ArtifactNames.MomentumSlot, p, m2);
                return 0;
            });
        }
        foreach (var group in vectors.GroupBy(v => v.P.ExcludeFromWeightDecay).Select(grp => grp.ToList()))
        {
            var decayed = group[0].P; // the group's weight-decay setting
            var results = g.InScope(decayed.ExcludeFromWeightDecay ? "vectors/" : "decayed_vectors/", () =>
                VectorBatch.Apply(g, group.Select(v => new[] { v.W, v.Grad, v.M }).ToList(), x =>
                {
                    var (m2, w2) = Step(x[0], Decayed(decayed, x[0], x[1]), x[2]);
                    return [m2, w2];
                }));
            for (int i = 0; i < group.Count; i++)
            {
                c.OutputParam(group[i].P, results[i][1]);
                c.OutputState(ArtifactNames.MomentumSlot, group[i].P, results[i][0]);
            }
        }
        return c.Finish();
    }

    /// <summary>||x||^2 as a [1] vector (for the Concat of all parameters' norms). One ReduceSumSquare pass, not Mul then
    /// ReduceSum: the optimizer is memory passes over the parameters (quickstart: 4.6-6.2 -> 4.0-4.2 ms of nodes).
    /// ORT's full reduction is Eigen's vectorised squaredNorm (many partial sums), not a sequential float sum.</summary>
    private static Value SquaredNorm(GraphBuilder g, Value x) => g.Reshape(g.ReduceSumSquare(x), 1);
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Graphs;

/// <summary>
/// ema.onnx: target &lt;- tau * target + (1 - tau) * online, per tensor (parameters and BatchNorm
/// running statistics alike). Inputs: <c>tau</c> float[], <c>target.&lt;n&gt;</c>, <c>online.&lt;n&gt;</c>
/// (float, the tensor's shape). Outputs: <c>new.target.&lt;n&gt;</c>.
/// </summary>
public static class EmaGraph
{
    public const string Tau = "tau";
    public static string Target(string name) => $"target.{name}";
    public static string Online(string name) => $"online.{name}";
    public static string NewTarget(string name) => $"new.target.{name}";

    public static BuiltGraph Build(IReadOnlyList<(string Name, long[] Shape)> tensors)
    {
        if (tensors.Count == 0) throw new ArgumentException("ema graph needs at least one tensor");
        var g = new GraphBuilder("ema") { DocString = "target <- tau * target + (1 - tau) * online" };
        var tau = g.Input(Tau, DType.Float);
        var oneMinusTau = g.Sub(g.Scalar(1f), tau);
        var state = new List<StatePair>();
        foreach (var (name, shape) in tensors)
        {
            var t = g.Input(Target(name), DType.Float, shape);
            var o = g.Input(Online(name), DType.Float, shape);
            var y = g.InScope(name + "/", () => g.Add(g.Mul(t, tau), g.Mul(o, oneMinusTau)));
            g.Output(y, NewTarget(name));
            state.Add(new StatePair(Target(name), NewTarget(name)));
        }
        return new BuiltGraph(g, state);
    }
}

/// <summary>The BYOL target-EMA schedule (docs/method.md, step 8).</summary>
public static class EmaSchedule
{
    /// <summary>tau_k = 1 - (1 - tauBase) * (cos(pi k / K) + 1) / 2: tauBase at k = 0, 1 at k = K.</summary>
    public static double Tau(long step, long totalSteps, double tauBase)
    {
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), "total steps must be positive");
        double k = Math.Clamp(step, 0, totalSteps);
        return 1 - (1 - tauBase) * (Math.Cos(Math.PI * k / totalSteps) + 1) / 2;
    }
}

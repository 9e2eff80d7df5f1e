using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Graphs;

/// <summary>
/// ema.onnx: target &lt;- tau * target + (1 - tau) * online, per tensor (parameters and BatchNorm
/// running statistics alike). Inputs: <c>tau</c> float[], <c>target.&lt;n&gt;</c>, <c>online.&lt;n&gt;</c>
/// (float, the tensor's shape). Outputs: <c>new.target.&lt;n&gt;</c>.
/// </summary>
public static class EmaGraph
{
    public static BuiltGraph Build(IReadOnlyList<(string Name, long[] Shape)> tensors)
    {
        if (tensors.Count == 0) throw new ArgumentException("ema graph needs at least one tensor");
        var g = new GraphBuilder("ema") { DocString = "target <- tau * target + (1 - tau) * online" };
        var tau = g.Input(EmaDecay, DType.Float);
        var contract = new ContractBuilder().HostFed(EmaDecay, HostRole.EmaDecay);
        var oneMinusTau = g.Sub(g.Scalar(1f), tau);
        foreach (var (name, shape) in tensors)
        {
            var t = g.Input(Target(name), DType.Float, shape);
            var o = g.Input(Online(name), DType.Float, shape);
            var y = g.InScope(name + "/", () => g.Add(g.Mul(t, tau), g.Mul(o, oneMinusTau)));
            g.Output(y, New(Target(name)));
            contract.StateRead(Target(name)).StateRead(Online(name)).StateWritten(New(Target(name)), Target(name), replaces: Target(name));
        }
        return new BuiltGraph(g, contract.Finish(g));
    }
}

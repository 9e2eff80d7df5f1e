using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Graphs;

/// <summary>
/// ema.onnx: target &lt;- tau * target + (1 - tau) * online, per tensor (parameters and BatchNorm
/// running statistics alike). Inputs: <c>tau</c> float[], <c>target.&lt;n&gt;</c>, <c>online.&lt;n&gt;</c>
/// (float, the tensor's shape). Outputs: <c>new.target.&lt;n&gt;</c>.
/// The 1-D tensors (BatchNorm scales, shifts and statistics, biases) are updated as one <see cref="VectorBatch"/>:
/// 6 nodes instead of 3 per tensor.
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
        Value Average(Value t, Value o) => g.Add(g.Mul(t, tau), g.Mul(o, oneMinusTau));
        var vectors = new List<(string Name, Value Target, Value Online)>();
        foreach (var (name, shape) in tensors)
        {
            var t = g.Input(Target(name), DType.Float, shape);
            var o = g.Input(Online(name), DType.Float, shape);
            contract.StateRead(Target(name)).StateRead(Online(name)).StateWritten(New(Target(name)), Target(name), replaces: Target(name));
            if (shape.Length == 1) { vectors.Add((name, t, o)); continue; }
            g.Output(g.InScope(name + "/", () => Average(t, o)), New(Target(name)));
        }
        var averaged = g.InScope("vectors/", () => VectorBatch.Apply(g, vectors.Select(v => new[] { v.Target, v.Online }).ToList(), x => [Average(x[0], x[1])]));
        for (int i = 0; i < vectors.Count; i++) g.Output(averaged[i][0], New(Target(vectors[i].Name)));
        return new BuiltGraph(g, contract.Finish(g));
    }
}

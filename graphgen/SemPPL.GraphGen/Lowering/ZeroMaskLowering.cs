using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>
/// Rewrites Where(mask, x, 0) (a constant zero: ReLU's backward and the other masked gradients) as
/// Mul(x, Cast(mask)) for CPU sessions. ORT's CPU Where runs at about a third of Mul's rate on large tensors
/// (case (a)'s train.onnx: 5.4 ms against 1.9 ms for a Mul of [80, 64, 32, 32]; 105 ms of the graph in 40 nodes),
/// while Cast from bool and Mul are vectorised. Broadcasting is the same (the output is the broadcast of mask and x).
/// Equal to the Where wherever x is finite (x * 0 is a zero, of x's sign); where x is infinite or NaN under a false
/// mask the Mul gives NaN, the Where 0: a gradient that is not finite has already lost the run either way.
/// </summary>
public static class ZeroMaskLowering
{
    /// <summary>Rewrites <paramref name="model"/> in place; returns how many Where nodes became Mul (0: unchanged).</summary>
    public static int Lower(ModelProto model)
    {
        var graph = model.Graph;
        var zeros = graph.Initializer.Where(IsZeroScalar).ToDictionary(i => i.Name, i => i.DataType);
        if (zeros.Count == 0) return 0;
        var emitter = new NodeEmitter(graph, "zero_mask");
        // (a zero only the Wheres read goes too, with every other constant nothing reads)
        return NodeRewrite.Apply(graph, emitter, node =>
        {
            if (node.OpType != "Where" || node.Input.Count != 3 || !zeros.TryGetValue(node.Input[2], out int type)) return null;
            string mask = emitter.Fresh(node.Output[0] + ".mask");
            var cast = new NodeProto { Name = emitter.Fresh(node.Name + ".mask"), OpType = "Cast", Input = { node.Input[0] }, Output = { mask } };
            cast.Attribute.Add(NodeEmitter.Int("to", type));
            return [cast, new NodeProto { Name = emitter.Fresh(node.Name + ".masked"), OpType = "Mul", Input = { node.Input[1], mask }, Output = { node.Output[0] } }];
        });
    }

    /// <summary>A one-element float initializer holding 0 (a scalar, or [1]: either broadcasts without widening).</summary>
    internal static bool IsZeroScalar(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float || t.Dims.Aggregate(1L, (a, d) => a * d) != 1 || t.Dims.Count > 1) return false;
        var value = HostTensor.FromProto(t);
        return value.Floats.Length == 1 && value.Floats[0] == 0f;
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.Tests.Runtime;

internal static class TestGraphs
{
    /// <summary>state_out = state + x; doubled = 2 * state_out. Shapes [4].</summary>
    public static byte[] Counter()
    {
        var g = new GraphBuilder("counter");
        var s = g.Input("state", DType.Float, 4);
        var x = g.Input("x", DType.Float, 4);
        var next = g.Output(g.Add(s, x), "state_out");
        g.Output(g.Mul(next, g.Scalar(2f)), "doubled");
        return g.ToBytes();
    }
}

namespace SemPPL.GraphGen.Onnx;

// Handlers of the matrix products (GraphBuilder.Linear.cs).
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        // MatMul and Gemm map one to one.
        private static void AddLinearHandlers(Dictionary<string, Func<NodeCtx, Value?[]>> h)
        {
            h["MatMul"] = c => [c.G.MatMul(c.V(0), c.V(1))];
            h["Gemm"] = c => [c.G.Gemm(c.V(0), c.V(1), c.VOpt(2), c.Int("transA", 0) != 0, c.Int("transB", 0) != 0, c.Float("alpha", 1f), c.Float("beta", 1f))];
        }
    }
}

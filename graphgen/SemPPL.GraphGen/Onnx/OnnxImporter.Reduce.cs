namespace SemPPL.GraphGen.Onnx;

// Handlers of reductions, the softmax family, ArgMax, TopK and CumSum (GraphBuilder.Reduce.cs).
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        // Axes are an attribute before the opset in axesAsInputFrom and an input from it on.
        private static void AddReduceHandlers(Dictionary<string, Func<NodeCtx, Value?[]>> h)
        {
            h["ReduceSum"] = c => c.Reduce((g, x, a, k) => g.ReduceSum(x, a, k), axesAsInputFrom: 13);
            h["ReduceMean"] = c => c.Reduce((g, x, a, k) => g.ReduceMean(x, a, k), axesAsInputFrom: 18);
            h["ReduceMax"] = c => c.Reduce((g, x, a, k) => g.ReduceMax(x, a, k), axesAsInputFrom: 18);
            h["ReduceMin"] = c => c.Reduce((g, x, a, k) => g.ReduceMin(x, a, k), axesAsInputFrom: 18);
            h["Softmax"] = c => [c.Softmax(false)];
            h["LogSoftmax"] = c => [c.Softmax(true)];
            h["ArgMax"] = c =>
            {
                if (c.Int("select_last_index", 0) != 0) throw new UnsupportedOnnxOpException("ArgMax", c.Node.Name, $"OnnxImporter: {c}: select_last_index is not supported");
                return [c.G.ArgMax(c.V(0), c.Int("axis", 0), c.Int("keepdims", 1) != 0)];
            };
            h["TopK"] = c =>
            {
                if (c.Int("sorted", 1) == 0) throw new UnsupportedOnnxOpException("TopK", c.Node.Name, $"OnnxImporter: {c}: sorted = 0 is not supported");
                long k = c.Opset < 10 ? c.Int("k", 1) : c.ConstInts(1, "K")[0];
                var (v, i) = c.G.TopK(c.V(0), k, c.Int("axis", -1), c.Int("largest", 1) != 0);
                return [v, i];
            };
            h["CumSum"] = c =>
            {
                if (c.Int("reverse", 0) != 0) throw new UnsupportedOnnxOpException("CumSum", c.Node.Name, $"OnnxImporter: {c}: reverse CumSum is not supported");
                return [c.G.CumSum(c.V(0), c.ConstInts(1, "axis")[0], c.Int("exclusive", 0) != 0)];
            };
        }
    }
}

namespace SemPPL.GraphGen.Onnx;

// Handlers of the elementwise ops (GraphBuilder.Elementwise.cs): unary, binary with broadcasting, comparisons, Where, Clip, Cast, Dropout.
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        // Inference-mode Dropout is its input; training-mode Dropout is rejected.
        private static void AddElementwiseHandlers(Dictionary<string, Func<NodeCtx, Value?[]>> h)
        {
            void Unary(string op, Func<GraphBuilder, Value, Value> f) => h[op] = c => [f(c.G, c.V(0))];
            void Binary(string op, Func<GraphBuilder, Value, Value, Value> f) => h[op] = c => [f(c.G, c.V(0), c.V(1))];
            void Variadic(string op, Func<GraphBuilder, Value, Value, Value> f) =>
                h[op] = c => [Enumerable.Range(1, c.Node.Input.Count - 1).Aggregate(c.V(0), (acc, i) => f(c.G, acc, c.V(i)))];

            Unary("Relu", (g, x) => g.Relu(x));
            Unary("Sigmoid", (g, x) => g.Sigmoid(x));
            Unary("Tanh", (g, x) => g.Tanh(x));
            Unary("Neg", (g, x) => g.Neg(x));
            Unary("Exp", (g, x) => g.Exp(x));
            Unary("Log", (g, x) => g.Log(x));
            Unary("Sqrt", (g, x) => g.Sqrt(x));
            Unary("Abs", (g, x) => g.Abs(x));
            Unary("Sign", (g, x) => g.Sign(x));
            Unary("Reciprocal", (g, x) => g.Reciprocal(x));
            Unary("Floor", (g, x) => g.Floor(x));
            Unary("Not", (g, x) => g.Not(x));
            h["Identity"] = c => [c.V(0)];
            Binary("Sub", (g, a, b) => g.Sub(a, b));
            Binary("Div", (g, a, b) => g.Div(a, b));
            Binary("Pow", (g, a, b) => g.Pow(a, b));
            Binary("Equal", (g, a, b) => g.Equal(a, b));
            Binary("Greater", (g, a, b) => g.Greater(a, b));
            Binary("Less", (g, a, b) => g.Less(a, b));
            Binary("GreaterOrEqual", (g, a, b) => g.GreaterOrEqual(a, b));
            Binary("LessOrEqual", (g, a, b) => g.LessOrEqual(a, b));
            Binary("And", (g, a, b) => g.And(a, b));
            Binary("Or", (g, a, b) => g.Or(a, b));
            Binary("Add", (g, a, b) => g.Add(a, b));
            Binary("Mul", (g, a, b) => g.Mul(a, b));
            Variadic("Max", (g, a, b) => g.Max(a, b));
            Variadic("Min", (g, a, b) => g.Min(a, b));
            h["Sum"] = c => [c.G.Sum(Enumerable.Range(0, c.Node.Input.Count).Select(c.V).ToArray())];
            h["Where"] = c => [c.G.Where(c.V(0), c.V(1), c.V(2))];
            h["Cast"] = c => [c.G.Cast(c.V(0), ToDType((int)c.Int("to", 0), c.ToString()))];
            h["Clip"] = c =>
            {
                if (c.Opset < 11)
                {
                    float lo = c.Float("min", float.MinValue), hi = c.Float("max", float.MaxValue);
                    return [c.G.Clip(c.V(0), c.Has("min") ? lo : null, c.Has("max") ? hi : null)];
                }
                Value? Bound(int i) => c.VOpt(i) is { } b ? (b.Rank == 0 ? b : c.G.Reshape(b)) : null;
                return [c.G.Clip(c.V(0), Bound(1), Bound(2))];
            };
            h["Dropout"] = c =>
            {
                if (c.Const(2) is { } tm && ImportFolding.Longs(tm).Any(v => v != 0) || c.Int("is_test", 1) == 0 && c.Opset < 7)
                    throw new UnsupportedOnnxOpException("Dropout", c.Node.Name, $"OnnxImporter: {c}: training-mode Dropout is not supported (randomness comes from host-fed tensors)");
                var x = c.V(0);
                return [x, c.Node.Output.Count > 1 ? c.G.Filled(DType.Bool, 1, x.Shape) : null];
            };
        }
    }
}

namespace SemPPL.GraphGen.Onnx;

// Matrix products.
public sealed partial class GraphBuilder
{
    /// <summary>Numpy matmul: batched, with broadcasting of the leading dimensions.</summary>
    public Value MatMul(Value a, Value b)
    {
        if (a.Type != b.Type) throw ShapeException.For("MatMul", "element types differ", a, b);
        if (a.Rank < 1 || b.Rank < 1) throw ShapeException.For("MatMul", "inputs must have rank >= 1", a, b);
        long[] sa = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape;
        long[] sb = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
        long k1 = sa[^1], k2 = sb[^2];
        if (k1 >= 0 && k2 >= 0 && k1 != k2) throw ShapeException.For("MatMul", $"inner dimensions differ ({k1} vs {k2})", a, b);
        var batch = Shapes.TryBroadcast(sa[..^2], sb[..^2]) ?? throw ShapeException.For("MatMul", "batch dimensions do not broadcast", a, b);
        var outShape = new List<long>(batch);
        if (a.Rank > 1) outShape.Add(sa[^2]);
        if (b.Rank > 1) outShape.Add(sb[^1]);
        return AddNode1("MatMul", [a, b], a.Type, outShape.ToArray());
    }

    /// <summary>Y = alpha * A' B' + beta * C, with A' = transA ? A^T : A (2-D inputs).</summary>
    public Value Gemm(Value a, Value b, Value? c = null, bool transA = false, bool transB = false, float alpha = 1f, float beta = 1f)
    {
        if (a.Rank != 2 || b.Rank != 2) throw ShapeException.For("Gemm", "A and B must be 2-D", a, b);
        long m = transA ? a.Shape[1] : a.Shape[0], k1 = transA ? a.Shape[0] : a.Shape[1];
        long k2 = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k1 >= 0 && k2 >= 0 && k1 != k2) throw ShapeException.For("Gemm", $"inner dimensions differ ({k1} vs {k2})", a, b);
        if (c is not null)
        {
            var s = Shapes.TryBroadcast([m, n], c.Shape);
            if (s is null || s.Length != 2 || (m >= 0 && s[0] != m) || (n >= 0 && s[1] != n))
                throw ShapeException.For("Gemm", $"C must broadcast to [{m},{n}]", a, b, c);
        }
        var attrs = new Dictionary<string, Attr>();
        if (transA) attrs["transA"] = Attr.Int(1);
        if (transB) attrs["transB"] = Attr.Int(1);
        if (alpha != 1f) attrs["alpha"] = Attr.Float(alpha);
        if (beta != 1f) attrs["beta"] = Attr.Float(beta);
        return AddNode1("Gemm", [a, b, c], a.Type, [m, n], attrs);
    }
}

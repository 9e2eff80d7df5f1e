namespace SemPPL.GraphGen.Onnx;

// Reductions, softmax family, top-k and friends.
public sealed partial class GraphBuilder
{
    private Value Reduce(string op, Value x, long[]? axes, bool keepDims)
    {
        if (axes is { Length: 0 }) axes = null; // ONNX: an empty axes list reduces over all axes (noop_with_empty_axes = 0)
        var norm = (axes ?? Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray())
            .Select(a => Shapes.NormAxis(a, x.Rank, op)).ToHashSet();
        if (TwoStageChannelReduction(op, x, norm, keepDims) is { } twoStage) return twoStage;
        var shape = keepDims
            ? x.Shape.Select((d, i) => norm.Contains(i) ? 1 : d).ToArray()
            : x.Shape.Where((_, i) => !norm.Contains(i)).ToArray();
        var attrs = new Dictionary<string, Attr> { ["keepdims"] = Attr.Int(keepDims ? 1 : 0) };
        var axesIn = axes is null ? null : Int64s(axes);
        return AddNode1(op, [x, axesIn], x.Type, shape, attrs);
    }

    /// <summary>Sum over axes (null = all axes).</summary>
    public Value ReduceSum(Value x, long[]? axes = null, bool keepDims = false) => Reduce("ReduceSum", x, axes, keepDims);
    public Value ReduceMean(Value x, long[]? axes = null, bool keepDims = false) => Reduce("ReduceMean", x, axes, keepDims);
    public Value ReduceMax(Value x, long[]? axes = null, bool keepDims = false) => Reduce("ReduceMax", x, axes, keepDims);
    /// <summary>Sum of squares over axes. One pass, but ORT's CPU kernel accumulates sequentially in float: less accurate than Mul + ReduceMean.</summary>
    public Value ReduceSumSquare(Value x, long[]? axes = null, bool keepDims = false) => Reduce("ReduceSumSquare", x, axes, keepDims);
    public Value ReduceMin(Value x, long[]? axes = null, bool keepDims = false) => Reduce("ReduceMin", x, axes, keepDims);

    public Value Softmax(Value x, long axis = -1) =>
        AddNode1("Softmax", [x], x.Type, x.Shape, new() { ["axis"] = Attr.Int(Shapes.NormAxis(axis, x.Rank, "Softmax")) });

    public Value LogSoftmax(Value x, long axis = -1) =>
        AddNode1("LogSoftmax", [x], x.Type, x.Shape, new() { ["axis"] = Attr.Int(Shapes.NormAxis(axis, x.Rank, "LogSoftmax")) });

    public (Value Values, Value Indices) TopK(Value x, long k, long axis = -1, bool largest = true)
    {
        int a = Shapes.NormAxis(axis, x.Rank, "TopK");
        if (x.Shape[a] >= 0 && k > x.Shape[a]) throw ShapeException.For("TopK", $"k = {k} exceeds axis size {x.Shape[a]}", x);
        var shape = x.Shape.Select((d, i) => i == a ? k : d).ToArray();
        var o = AddNode("TopK", [x, Int64s(k)], [(x.Type, shape), (DType.Int64, shape)],
            new() { ["axis"] = Attr.Int(a), ["largest"] = Attr.Int(largest ? 1 : 0), ["sorted"] = Attr.Int(1) });
        return (o[0], o[1]);
    }

    public Value ArgMax(Value x, long axis, bool keepDims = false)
    {
        int a = Shapes.NormAxis(axis, x.Rank, "ArgMax");
        var shape = keepDims ? x.Shape.Select((d, i) => i == a ? 1 : d).ToArray() : x.Shape.Where((_, i) => i != a).ToArray();
        return AddNode1("ArgMax", [x], DType.Int64, shape, new() { ["axis"] = Attr.Int(a), ["keepdims"] = Attr.Int(keepDims ? 1 : 0) });
    }

    /// <summary>One-hot over a new last axis: [..] int64 -> [.., depth] of <paramref name="type"/>.</summary>
    public Value OneHot(Value indices, long depth, DType type = DType.Float)
    {
        // ORT's CPU OneHot kernels output float, int32, int64 or string, never double: build float and cast.
        var values = Constant(HostTensor.Float([2], [0f, 1f]), "onehot_values");
        var y = AddNode1("OneHot", [indices, ScalarI64(depth), values], DType.Float, indices.Shape.Append(depth).ToArray(), new() { ["axis"] = Attr.Int(-1) });
        return Cast(y, type);
    }

    public Value CumSum(Value x, long axis, bool exclusive = false)
    {
        var attrs = new Dictionary<string, Attr>();
        if (exclusive) attrs["exclusive"] = Attr.Int(1);
        return AddNode1("CumSum", [x, ScalarI64(Shapes.NormAxis(axis, x.Rank, "CumSum"))], x.Type, x.Shape, attrs);
    }
}

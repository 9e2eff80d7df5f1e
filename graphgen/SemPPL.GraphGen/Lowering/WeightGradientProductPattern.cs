using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>
/// The product of graphgen's GatherIm2Col Conv weight gradient, read back from a graph by its producers:
/// prod [K, M, C] = MatMul(dyt, cols), dyt = Reshape(Transpose(Reshape(dY, [N, M, L]), [1, 0, 2]), [M, R]) and
/// cols = Gather(rows, Reshape(idx, [K, R])) with rows = Reshape(., [P, C]) the padded channels-last input (R = N*L).
/// </summary>
internal sealed record WeightGradientProductPattern(string Dy, long N, long M, long L, NodeProto Gather, string Rows, long P, long C, long K, long R)
{
    public static WeightGradientProductPattern? Match(NodeProto product, GraphProducers graph)
    {
        if (product.OpType != "MatMul" || product.Input.Count != 2) return null;
        if (graph.Of(product.Input[1], "Gather") is not { } gather || NodeAttributes.Int(gather, "axis", 0) != 0) return null;
        if (graph.ReshapeTarget(gather.Input[1]) is not [long k, long r] || graph.ReshapeTarget(gather.Input[0]) is not [long p, long c]) return null;
        if (graph.ReshapeTarget(product.Input[0]) is not [long m, long r2] || r2 != r) return null;
        if (graph.Of(graph.Of(product.Input[0], "Reshape")!.Input[0], "Transpose") is not { } t || !(NodeAttributes.Ints(t, "perm") ?? []).SequenceEqual([1L, 0, 2])) return null;
        if (graph.ReshapeTarget(t.Input[0]) is not [long n, long m2, long l] || m2 != m || n * l != r) return null;
        return new(graph.Of(t.Input[0], "Reshape")!.Input[0], n, m, l, gather, gather.Input[0], p, c, k, r);
    }

    /// <summary>The conv input x the rows unfold, when rows = Reshape(Pad?(Reshape(Transpose(x, [0, 2, 3, 1]), [N, H*W*C])), [P, C]):
    /// x, the zero floats padded before and after each sample (whole rows of the image: graphgen pads no columns; 0 when
    /// there is no Pad) and the Pad's value input ("" for 0); else null.</summary>
    public (string X, long PadBefore, long PadAfter, string PadValue)? ChannelsLastSource(GraphProducers graph)
    {
        string source = graph.Of(Rows, "Reshape")!.Input[0];
        long[] pads = new long[4];
        string padValue = "";
        if (graph.Of(source, "Pad") is { } pad)
        {
            if (NodeAttributes.Str(pad, "mode", "constant") != "constant" || pad.Input.Count is < 2 or > 3 || graph.Initializer(pad.Input[1]) is not { } padsTensor) return null;
            pads = HostTensor.FromProto(padsTensor).Longs;
            padValue = pad.Input.Count > 2 ? pad.Input[2] : "";
            if (graph.Of(pad.Input[0], "Reshape") is not { } view) return null;
            source = view.Input[0];
        }
        if (pads.Length != 4 || pads[0] != 0 || pads[2] != 0 || pads[1] % C != 0 || pads[3] % C != 0) return null;
        if (graph.Of(source, "Transpose") is not { } t || !(NodeAttributes.Ints(t, "perm") ?? []).SequenceEqual([0L, 2, 3, 1])) return null;
        return (t.Input[0], pads[1], pads[3], padValue);
    }
}

/// <summary>Who computes each value of a graph, and its constants: what the lowerings' pattern reads need.</summary>
internal sealed class GraphProducers(GraphProto graph)
{
    private readonly Dictionary<string, NodeProto> _producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
    private readonly Dictionary<string, TensorProto> _initializers = graph.Initializer.ToDictionary(i => i.Name);

    /// <summary>The node producing <paramref name="value"/> when it is a <paramref name="opType"/> of the default domain, else null.</summary>
    public NodeProto? Of(string value, string opType) =>
        _producers.TryGetValue(value, out var n) && n.OpType == opType && n.Domain is "" or "ai.onnx" ? n : null;

    public TensorProto? Initializer(string name) => _initializers.GetValueOrDefault(name);

    /// <summary>The value of an int64 tensor computed from constants alone: an initializer, or an Add of such tensors
    /// (numpy broadcasting); null for anything else.</summary>
    public (long[] Shape, long[] Values)? ConstantInt64(string value)
    {
        if (Initializer(value) is { } t)
        {
            var v = HostTensor.FromProto(t);
            return v.Type == DType.Int64 ? (v.Shape, v.Longs) : null;
        }
        if (Of(value, "Add") is not { Input.Count: 2 } add || ConstantInt64(add.Input[0]) is not { } a || ConstantInt64(add.Input[1]) is not { } b) return null;
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        long Dim(long[] s, int axis) => axis < rank - s.Length ? 1 : s[axis - (rank - s.Length)];
        var shape = new long[rank];
        for (int axis = 0; axis < rank; axis++)
        {
            long da = Dim(a.Shape, axis), db = Dim(b.Shape, axis);
            if (da != db && da != 1 && db != 1) return null;
            shape[axis] = Math.Max(da, db);
        }
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var values = new long[count];
        for (long flat = 0; flat < count; flat++)
        {
            long rest = flat, ia = 0, ib = 0, sa = 1, sb = 1;
            for (int axis = rank - 1; axis >= 0; axis--)
            {
                long coord = rest % shape[axis];
                rest /= shape[axis];
                long da = Dim(a.Shape, axis), db = Dim(b.Shape, axis);
                if (da != 1) ia += coord * sa;
                if (db != 1) ib += coord * sb;
                sa *= da;
                sb *= db;
            }
            values[flat] = a.Values[ia] + b.Values[ib];
        }
        return (shape, values);
    }

    /// <summary>The constant target shape of the Reshape producing <paramref name="value"/> (no 0 or -1 entries), else null.</summary>
    public long[]? ReshapeTarget(string value)
    {
        if (Of(value, "Reshape") is not { } reshape || reshape.Input.Count < 2 || Initializer(reshape.Input[1]) is not { } shape) return null;
        var dims = HostTensor.FromProto(shape).Longs;
        return dims.All(d => d > 0) ? dims : null;
    }
}

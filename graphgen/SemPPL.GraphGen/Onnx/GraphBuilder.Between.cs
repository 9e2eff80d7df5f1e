namespace SemPPL.GraphGen.Onnx;

// Ops used by the between-step graphs (queue, pseudo-labels): integer Mod and ScatterND.
public sealed partial class GraphBuilder
{
    /// <summary>Elementwise remainder. Integer inputs use fmod = 0 (sign of the divisor, Python semantics); floats need fmod = 1.</summary>
    public Value Mod(Value a, Value b)
    {
        if (a.Type != b.Type) throw ShapeException.For("Mod", "element types differ", a, b);
        var shape = Shapes.TryBroadcast(a.Shape, b.Shape) ?? throw ShapeException.For("Mod", "shapes do not broadcast", a, b);
        var attrs = new Dictionary<string, Attr>();
        if (a.Type.IsFloating()) attrs["fmod"] = Attr.Int(1);
        return AddNode1("Mod", [a, b], a.Type, shape, attrs);
    }

    /// <summary>
    /// ScatterND (reduction none): indices [.., q] int64 address the first q axes of data;
    /// updates have shape indices.Shape[..^1] ++ data.Shape[q..]. Duplicate indices are undefined.
    /// </summary>
    public Value ScatterND(Value data, Value indices, Value updates)
    {
        if (indices.Type != DType.Int64) throw ShapeException.For("ScatterND", "indices must be int64", indices);
        if (updates.Type != data.Type) throw ShapeException.For("ScatterND", "updates and data types differ", data, updates);
        long q = indices.Shape[^1];
        if (q < 1 || q > data.Rank) throw ShapeException.For("ScatterND", $"index depth {q} out of range for data rank {data.Rank}", data, indices);
        var expected = indices.Shape[..^1].Concat(data.Shape.Skip((int)q)).ToArray();
        if (!expected.SequenceEqual(updates.Shape)) throw ShapeException.For("ScatterND", $"updates must have shape {Shapes.Str(expected)}", data, indices, updates);
        return AddNode1("ScatterND", [data, indices, updates], data.Type, data.Shape);
    }
}

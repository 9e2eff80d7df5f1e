namespace SemPPL.GraphGen.Onnx;

// Shape and indexing ops. Shape arguments are compile-time constants (static graphs).
public sealed partial class GraphBuilder
{
    /// <summary>Reshape with ONNX semantics: 0 copies the input dimension, one -1 is inferred.</summary>
    public Value Reshape(Value x, params long[] shape)
    {
        var o = (long[])shape.Clone();
        for (int i = 0; i < o.Length; i++)
            if (o[i] == 0)
            {
                if (i >= x.Rank) throw ShapeException.For("Reshape", $"0 at position {i} beyond input rank", x);
                o[i] = x.Shape[i];
            }
        int unknown = Array.IndexOf(o, -1L);
        if (o.Count(d => d == -1) > 1 && x.IsStatic) throw ShapeException.For("Reshape", $"target {Shapes.Str(shape)} has more than one -1", x);
        if (x.IsStatic)
        {
            long known = o.Where(d => d != -1).Aggregate(1L, (a, b) => a * b);
            if (unknown >= 0)
            {
                if (known == 0 || x.ElementCount % known != 0) throw ShapeException.For("Reshape", $"cannot reshape to {Shapes.Str(shape)}", x);
                o[unknown] = x.ElementCount / known;
            }
            else if (known != x.ElementCount) throw ShapeException.For("Reshape", $"cannot reshape {x.ElementCount} elements to {Shapes.Str(shape)}", x);
        }
        if (o.SequenceEqual(x.Shape) && x.IsStatic) return x;
        return AddNode1("Reshape", [x, Int64s(shape)], x.Type, o);
    }

    public Value Flatten(Value x, long axis = 1)
    {
        int a = axis < 0 ? (int)axis + x.Rank : (int)axis;
        if (a < 0 || a > x.Rank) throw ShapeException.For("Flatten", $"axis {axis} out of range", x);
        long outer = x.Shape.Take(a).Any(d => d < 0) ? -1 : Shapes.Product(x.Shape.Take(a));
        long inner = x.Shape.Skip(a).Any(d => d < 0) ? -1 : Shapes.Product(x.Shape.Skip(a));
        return AddNode1("Flatten", [x], x.Type, [outer, inner], new() { ["axis"] = Attr.Int(a) });
    }

    public Value Transpose(Value x, params long[] perm)
    {
        if (perm.Length != x.Rank || perm.OrderBy(p => p).Select((p, i) => p == i).Any(ok => !ok))
            throw ShapeException.For("Transpose", $"perm {Shapes.Str(perm)} is not a permutation of the axes", x);
        return AddNode1("Transpose", [x], x.Type, perm.Select(p => x.Shape[p]).ToArray(), new() { ["perm"] = Attr.IntList(perm) });
    }

    public Value Concat(IReadOnlyList<Value> xs, long axis)
    {
        if (xs.Count == 0) throw new ArgumentException("Concat needs inputs");
        if (xs.Count == 1) return xs[0];
        int a = Shapes.NormAxis(axis, xs[0].Rank, "Concat");
        var shape = (long[])xs[0].Shape.Clone();
        foreach (var x in xs.Skip(1))
        {
            if (x.Rank != shape.Length || x.Type != xs[0].Type) throw ShapeException.For("Concat", "ranks or types differ", xs.ToArray());
            for (int i = 0; i < shape.Length; i++)
                if (i != a && x.Shape[i] != shape[i]) throw ShapeException.For("Concat", $"dimension {i} differs", xs.ToArray());
            shape[a] = shape[a] < 0 || x.Shape[a] < 0 ? -1 : shape[a] + x.Shape[a];
        }
        return AddNode1("Concat", xs.ToArray(), xs[0].Type, shape, new() { ["axis"] = Attr.Int(a) });
    }

    public Value[] Split(Value x, long axis, params long[] sizes)
    {
        int a = Shapes.NormAxis(axis, x.Rank, "Split");
        if (x.Shape[a] >= 0 && sizes.Sum() != x.Shape[a]) throw ShapeException.For("Split", $"sizes {Shapes.Str(sizes)} do not sum to dimension {x.Shape[a]}", x);
        var outs = sizes.Select(sz => (x.Type, x.Shape.Select((d, i) => i == a ? sz : d).ToArray())).ToArray();
        return AddNode("Split", [x, Int64s(sizes)], outs, new() { ["axis"] = Attr.Int(a) });
    }

    /// <summary>Slice with constant starts/ends/axes/steps (ONNX clamping semantics).</summary>
    public Value Slice(Value x, long[] starts, long[] ends, long[]? axes = null, long[]? steps = null)
    {
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        if (starts.Length != ends.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            throw ShapeException.For("Slice", "starts/ends/axes/steps lengths differ", x);
        var shape = (long[])x.Shape.Clone();
        for (int k = 0; k < axes.Length; k++)
        {
            int a = Shapes.NormAxis(axes[k], x.Rank, "Slice");
            long dim = x.Shape[a];
            if (dim < 0) { shape[a] = -1; continue; }
            var (st, en, step) = SliceBounds(starts[k], ends[k], steps[k], dim);
            shape[a] = step > 0 ? Math.Max(0, (en - st + step - 1) / step) : Math.Max(0, (st - en + (-step) - 1) / (-step));
        }
        return AddNode1("Slice", [x, Int64s(starts), Int64s(ends), Int64s(axes), Int64s(steps)], x.Type, shape);
    }

    /// <summary>Clamped (start, end, step) of one sliced axis, as ONNX defines them.</summary>
    public static (long Start, long End, long Step) SliceBounds(long start, long end, long step, long dim)
    {
        if (step == 0) throw new ShapeException("Slice: step 0");
        long s = start < 0 ? start + dim : start, e = end < 0 ? end + dim : end;
        if (step > 0) { s = Math.Clamp(s, 0, dim); e = Math.Clamp(e, 0, dim); }
        else { s = Math.Clamp(s, 0, dim - 1); e = Math.Clamp(e, -1, dim - 1); }
        return (s, e, step);
    }

    public Value Gather(Value data, Value indices, long axis = 0)
    {
        if (indices.Type is not (DType.Int64 or DType.Int32)) throw ShapeException.For("Gather", "indices must be int32/int64", indices);
        int a = Shapes.NormAxis(axis, data.Rank, "Gather");
        var shape = data.Shape.Take(a).Concat(indices.Shape).Concat(data.Shape.Skip(a + 1)).ToArray();
        return AddNode1("Gather", [data, indices], data.Type, shape, new() { ["axis"] = Attr.Int(a) });
    }

    public Value GatherElements(Value data, Value indices, long axis)
    {
        int a = Shapes.NormAxis(axis, data.Rank, "GatherElements");
        if (indices.Rank != data.Rank) throw ShapeException.For("GatherElements", "indices rank must equal data rank", data, indices);
        return AddNode1("GatherElements", [data, indices], data.Type, indices.Shape, new() { ["axis"] = Attr.Int(a) });
    }

    /// <summary>ScatterElements; reduction none | add | mul | max | min.</summary>
    public Value ScatterElements(Value data, Value indices, Value updates, long axis, string reduction = "none")
    {
        int a = Shapes.NormAxis(axis, data.Rank, "ScatterElements");
        if (!indices.Shape.SequenceEqual(updates.Shape)) throw ShapeException.For("ScatterElements", "indices and updates shapes differ", indices, updates);
        var attrs = new Dictionary<string, Attr> { ["axis"] = Attr.Int(a) };
        if (reduction != "none") attrs["reduction"] = Attr.Str(reduction);
        return AddNode1("ScatterElements", [data, indices, updates], data.Type, data.Shape, attrs);
    }

    /// <summary>ScatterND; indices [..., k] address the first k axes of data; reduction none | add | mul | max | min.</summary>
    public Value ScatterND(Value data, Value indices, Value updates, string reduction = "none")
    {
        if (indices.Type != DType.Int64) throw ShapeException.For("ScatterND", "indices must be int64", indices);
        if (indices.Rank < 1) throw ShapeException.For("ScatterND", "indices must have rank >= 1", data, indices, updates);
        long k = indices.Shape[^1];
        if (k < 0 || k > data.Rank) throw ShapeException.For("ScatterND", $"index depth {k} exceeds data rank {data.Rank}", data, indices, updates);
        var expected = indices.Shape[..^1].Concat(data.Shape.Skip((int)k)).ToArray();
        if (!expected.SequenceEqual(updates.Shape) || updates.Type != data.Type)
            throw ShapeException.For("ScatterND", $"updates must be {data.Type.ToString().ToLowerInvariant()}{Shapes.Str(expected)}", data, indices, updates);
        var attrs = new Dictionary<string, Attr>();
        if (reduction != "none") attrs["reduction"] = Attr.Str(reduction);
        return AddNode1("ScatterND", [data, indices, updates], data.Type, data.Shape, attrs);
    }

    /// <summary>Squeeze the given axes; with none given, every axis of size 1 (as ONNX does without an axes input).</summary>
    public Value Squeeze(Value x, params long[] axes)
    {
        if (axes.Length == 0)
        {
            axes = Enumerable.Range(0, x.Rank).Where(i => x.Shape[i] == 1).Select(i => (long)i).ToArray();
            if (axes.Length == 0) return x;
        }
        var norm = axes.Select(a => Shapes.NormAxis(a, x.Rank, "Squeeze")).ToHashSet();
        foreach (var a in norm)
            if (x.Shape[a] != 1) throw ShapeException.For("Squeeze", $"axis {a} has size {x.Shape[a]}, not 1", x);
        return AddNode1("Squeeze", [x, Int64s(axes)], x.Type, x.Shape.Where((_, i) => !norm.Contains(i)).ToArray());
    }

    public Value Unsqueeze(Value x, params long[] axes)
    {
        int r = x.Rank + axes.Length;
        var norm = axes.Select(a => Shapes.NormAxis(a, r, "Unsqueeze")).ToHashSet();
        var shape = new long[r];
        int j = 0;
        for (int i = 0; i < r; i++) shape[i] = norm.Contains(i) ? 1 : x.Shape[j++];
        return AddNode1("Unsqueeze", [x, Int64s(axes)], x.Type, shape);
    }

    public Value Expand(Value x, params long[] shape)
    {
        var o = Shapes.TryBroadcast(x.Shape, shape) ?? throw ShapeException.For("Expand", $"cannot expand to {Shapes.Str(shape)}", x);
        return AddNode1("Expand", [x, Int64s(shape)], x.Type, o);
    }

    public Value Tile(Value x, params long[] repeats)
    {
        if (repeats.Length != x.Rank) throw ShapeException.For("Tile", "repeats length must equal rank", x);
        return AddNode1("Tile", [x, Int64s(repeats)], x.Type, x.Shape.Select((d, i) => d < 0 ? -1 : d * repeats[i]).ToArray());
    }

    /// <summary>Constant-mode Pad; pads = [begin_0.., end_0..] over all axes.</summary>
    public Value Pad(Value x, long[] pads, float value = 0f)
    {
        if (pads.Length != 2 * x.Rank) throw ShapeException.For("Pad", "pads must have 2 x rank entries", x);
        var shape = x.Shape.Select((d, i) => d < 0 ? -1 : d + pads[i] + pads[i + x.Rank]).ToArray();
        return AddNode1("Pad", [x, Int64s(pads), Scalar(value, x.Type)], x.Type, shape);
    }

    /// <summary>A zero-filled tensor of a static shape (ConstantOfShape, so the file stays small).</summary>
    public Value Zeros(DType type, params long[] shape) => Filled(type, 0, shape);

    public Value Filled(DType type, double value, params long[] shape)
    {
        var v = HostTensor.Filled(type, [1], value);
        return AddNode1("ConstantOfShape", [Int64s(shape)], type, shape, new() { ["value"] = Attr.Tensor(v) });
    }
}

namespace SemPPL.GraphGen.Onnx;

/// <summary>
/// Host evaluation of the small integer computations exporters emit around static shapes
/// (PyTorch: Shape -> Gather -> Unsqueeze -> Concat -> Reshape for a flatten; ConstantOfShape,
/// Concat, Reshape, Slice, Transpose, Cast for F.pad's pads). With every shape static these fold to
/// constants, so the imported graph holds none of them.
/// </summary>
internal static class ImportFolding
{
    /// <summary>Folding is for shape arithmetic: tensors larger than this stay graph computations.</summary>
    public const int MaxElements = 1 << 16;

    public static bool IsInteger(DType t) => t is DType.Int64 or DType.Int32 or DType.Bool or DType.UInt8;

    public static HostTensor Make(DType type, long[] shape, Array data) => type switch
    {
        DType.Float => HostTensor.Float(shape, (float[])data),
        DType.Double => HostTensor.Double(shape, (double[])data),
        DType.Int64 => HostTensor.Int64(shape, (long[])data),
        DType.Int32 => HostTensor.Int32(shape, (int[])data),
        DType.Bool => HostTensor.Bool(shape, (bool[])data),
        _ => throw new NotSupportedException($"constant of element type {type}"),
    };

    private static Array NewArray(DType type, long n) => type switch
    {
        DType.Float => new float[n],
        DType.Double => new double[n],
        DType.Int64 => new long[n],
        DType.Int32 => new int[n],
        DType.Bool => new bool[n],
        _ => throw new NotSupportedException($"constant of element type {type}"),
    };

    public static long[] Longs(HostTensor t) => t.Type switch
    {
        DType.Int64 => t.Longs,
        DType.Int32 => t.Ints.Select(v => (long)v).ToArray(),
        DType.Bool => t.Bools.Select(v => v ? 1L : 0L).ToArray(),
        _ => Enumerable.Range(0, (int)t.ElementCount).Select(i => (long)t.GetDouble(i)).ToArray(),
    };

    private static long[] Strides(long[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    private static long[] Unravel(long flat, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--) { idx[i] = shape[i] == 0 ? 0 : flat % shape[i]; flat = shape[i] == 0 ? 0 : flat / shape[i]; }
        return idx;
    }

    /// <summary>A tensor of <paramref name="outShape"/> whose element k is src[srcIndex(k)].</summary>
    private static HostTensor Take(HostTensor src, long[] outShape, Func<long, long> srcIndex)
    {
        long n = Shapes.Product(outShape);
        var dst = NewArray(src.Type, n);
        for (long k = 0; k < n; k++) Array.Copy(src.Data, srcIndex(k), dst, k, 1);
        return Make(src.Type, outShape, dst);
    }

    public static HostTensor Reshape(HostTensor t, long[] shape) => Make(t.Type, shape, (Array)t.Data.Clone());

    public static HostTensor Transpose(HostTensor t, long[] perm)
    {
        var outShape = perm.Select(p => t.Shape[p]).ToArray();
        var st = Strides(t.Shape);
        return Take(t, outShape, k =>
        {
            var oi = Unravel(k, outShape);
            long f = 0;
            for (int d = 0; d < perm.Length; d++) f += oi[d] * st[perm[d]];
            return f;
        });
    }

    public static HostTensor Gather(HostTensor data, HostTensor indices, int axis)
    {
        var idx = Longs(indices);
        var outShape = data.Shape.Take(axis).Concat(indices.Shape).Concat(data.Shape.Skip(axis + 1)).ToArray();
        long n = data.Shape[axis];
        long inner = Shapes.Product(data.Shape.Skip(axis + 1)), m = idx.Length;
        return Take(data, outShape, k =>
        {
            long i = k % inner, rest = k / inner, j = rest % m, outer = rest / m;
            long r = idx[j] < 0 ? idx[j] + n : idx[j];
            if (r < 0 || r >= n) throw new InvalidDataException($"Gather index {idx[j]} out of range for axis size {n}");
            return (outer * n + r) * inner + i;
        });
    }

    public static HostTensor Concat(IReadOnlyList<HostTensor> ts, int axis)
    {
        var type = ts[0].Type;
        var outShape = (long[])ts[0].Shape.Clone();
        outShape[axis] = ts.Sum(t => t.Shape[axis]);
        long outer = Shapes.Product(outShape.Take(axis)), inner = Shapes.Product(outShape.Skip(axis + 1));
        var dst = NewArray(type, Shapes.Product(outShape));
        long k = 0;
        for (long o = 0; o < outer; o++)
            foreach (var t in ts)
            {
                if (t.Type != type) throw new InvalidDataException("Concat of constants with different element types");
                long len = t.Shape[axis] * inner;
                Array.Copy(t.Data, o * len, dst, k, len);
                k += len;
            }
        return Make(type, outShape, dst);
    }

    public static HostTensor Slice(HostTensor t, long[] starts, long[] ends, long[] axes, long[] steps)
    {
        int r = t.Rank();
        var st = new long[r]; var sp = Enumerable.Repeat(1L, r).ToArray(); var outShape = (long[])t.Shape.Clone();
        for (int k = 0; k < axes.Length; k++)
        {
            int a = Shapes.NormAxis(axes[k], r, "Slice");
            var (s, e, step) = GraphBuilder.SliceBounds(starts[k], ends[k], steps[k], t.Shape[a]);
            outShape[a] = step > 0 ? Math.Max(0, (e - s + step - 1) / step) : Math.Max(0, (s - e - step - 1) / -step);
            st[a] = s; sp[a] = step;
        }
        var strides = Strides(t.Shape);
        return Take(t, outShape, k =>
        {
            var oi = Unravel(k, outShape);
            long f = 0;
            for (int i = 0; i < r; i++) f += (st[i] + oi[i] * sp[i]) * strides[i];
            return f;
        });
    }

    public static HostTensor Cast(HostTensor t, DType to)
    {
        if (t.Type == to) return t;
        int n = (int)t.ElementCount;
        if (IsInteger(t.Type) && to is DType.Int64 or DType.Int32)
        {
            var v = Longs(t);
            return to == DType.Int64 ? HostTensor.Int64(t.Shape, v) : HostTensor.Int32(t.Shape, v.Select(x => (int)x).ToArray());
        }
        var d = Enumerable.Range(0, n).Select(i => t.GetDouble(i)).ToArray();
        return to switch
        {
            DType.Float => HostTensor.Float(t.Shape, d.Select(x => (float)x).ToArray()),
            DType.Double => HostTensor.Double(t.Shape, d),
            DType.Int64 => HostTensor.Int64(t.Shape, d.Select(x => (long)Math.Truncate(x)).ToArray()),
            DType.Int32 => HostTensor.Int32(t.Shape, d.Select(x => (int)Math.Truncate(x)).ToArray()),
            DType.Bool => HostTensor.Bool(t.Shape, d.Select(x => x != 0).ToArray()),
            _ => throw new NotSupportedException($"Cast to {to}"),
        };
    }

    private static long BroadcastIndex(long[] outIndex, long[] shape)
    {
        long idx = 0, stride = 1;
        for (int i = shape.Length - 1, j = outIndex.Length - 1; i >= 0; i--, j--)
        {
            idx += (shape[i] == 1 ? 0 : outIndex[j]) * stride;
            stride *= shape[i];
        }
        return idx;
    }

    /// <summary>Integer binary op with numpy broadcasting; arithmetic keeps the type, comparisons give bool.</summary>
    public static HostTensor Binary(string op, HostTensor a, HostTensor b)
    {
        var shape = Shapes.TryBroadcast(a.Shape, b.Shape) ?? throw new InvalidDataException($"{op}: constant shapes {Shapes.Str(a.Shape)} and {Shapes.Str(b.Shape)} do not broadcast");
        var x = Longs(a); var y = Longs(b);
        long n = Shapes.Product(shape);
        var o = new long[n];
        for (long k = 0; k < n; k++)
        {
            var idx = Unravel(k, shape);
            long p = x[BroadcastIndex(idx, a.Shape)], q = y[BroadcastIndex(idx, b.Shape)];
            o[k] = op switch
            {
                "Add" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                "Div" => q == 0 ? throw new DivideByZeroException("constant integer Div by zero") : p / q,
                "Equal" => p == q ? 1 : 0,
                "Less" => p < q ? 1 : 0,
                "Greater" => p > q ? 1 : 0,
                "LessOrEqual" => p <= q ? 1 : 0,
                "GreaterOrEqual" => p >= q ? 1 : 0,
                "Max" => Math.Max(p, q),
                "Min" => Math.Min(p, q),
                "And" => (p != 0 && q != 0) ? 1 : 0,
                "Or" => (p != 0 || q != 0) ? 1 : 0,
                _ => throw new NotSupportedException(op),
            };
        }
        bool logical = op is "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or";
        return logical ? HostTensor.Bool(shape, o.Select(v => v != 0).ToArray()) : Cast(HostTensor.Int64(shape, o), a.Type);
    }

    public static HostTensor Where(HostTensor cond, HostTensor a, HostTensor b)
    {
        var shape = Shapes.TryBroadcast(cond.Shape, a.Shape) is { } s1 ? Shapes.TryBroadcast(s1, b.Shape) : null;
        if (shape is null) throw new InvalidDataException("Where: constant shapes do not broadcast");
        var c = Longs(cond);
        long n = Shapes.Product(shape);
        var dst = NewArray(a.Type, n);
        for (long k = 0; k < n; k++)
        {
            var idx = Unravel(k, shape);
            var src = c[BroadcastIndex(idx, cond.Shape)] != 0 ? a : b;
            Array.Copy(src.Data, BroadcastIndex(idx, src.Shape), dst, k, 1);
        }
        return Make(a.Type, shape, dst);
    }

    public static HostTensor Range(HostTensor start, HostTensor limit, HostTensor delta)
    {
        long s = Longs(start)[0], l = Longs(limit)[0], d = Longs(delta)[0];
        if (d == 0) throw new InvalidDataException("Range with delta 0");
        long n = Math.Max(0, (long)Math.Ceiling((l - s) / (double)d));
        return Cast(HostTensor.Int64([n], Enumerable.Range(0, (int)n).Select(i => s + i * d).ToArray()), start.Type);
    }

    public static HostTensor Filled(HostTensor value, long[] shape)
    {
        long n = Shapes.Product(shape);
        var dst = NewArray(value.Type, n);
        for (long k = 0; k < n; k++) Array.Copy(value.Data, 0, dst, k, 1);
        return Make(value.Type, shape, dst);
    }

    private static int Rank(this HostTensor t) => t.Shape.Length;
}

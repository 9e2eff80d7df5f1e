namespace SemPPL.GraphGen.Tests.Support;

// Shape and indexing ops, written from the ONNX operator definitions with plain index loops.
// Each takes row-major data with its shape and returns the output's data (and, where the caller
// needs it, the output shape).
public static partial class Reference
{
    public static long Count(long[] shape) => shape.Aggregate(1L, (a, d) => a * d);

    private static long Flat(long[] idx, long[] shape)
    {
        long f = 0;
        for (int i = 0; i < shape.Length; i++) f = f * shape[i] + idx[i];
        return f;
    }

    public static double[] Transpose(long[] shape, double[] x, long[] perm)
    {
        var outShape = perm.Select(p => shape[p]).ToArray();
        var y = new double[x.Length];
        for (long k = 0; k < y.Length; k++)
        {
            var oi = Unravel(k, outShape);
            var xi = new long[shape.Length];
            for (int d = 0; d < perm.Length; d++) xi[perm[d]] = oi[d];
            y[k] = x[Flat(xi, shape)];
        }
        return y;
    }

    public static double[] Concat(long[][] shapes, double[][] xs, int axis)
    {
        var outShape = (long[])shapes[0].Clone();
        outShape[axis] = shapes.Sum(s => s[axis]);
        var y = new double[Count(outShape)];
        for (long k = 0; k < y.Length; k++)
        {
            var oi = Unravel(k, outShape);
            long pos = oi[axis];
            int part = 0;
            while (pos >= shapes[part][axis]) { pos -= shapes[part][axis]; part++; }
            var xi = (long[])oi.Clone(); xi[axis] = pos;
            y[k] = xs[part][Flat(xi, shapes[part])];
        }
        return y;
    }

    /// <summary>ONNX Slice: returns the output shape and data. Clamping as the operator spec states it.</summary>
    public static (long[] Shape, double[] Data) Slice(long[] shape, double[] x, long[] starts, long[] ends, long[] axes, long[] steps)
    {
        int r = shape.Length;
        var st = new long[r]; var sp = new long[r]; var outShape = (long[])shape.Clone();
        for (int i = 0; i < r; i++) { st[i] = 0; sp[i] = 1; }
        for (int k = 0; k < axes.Length; k++)
        {
            int a = (int)(axes[k] < 0 ? axes[k] + r : axes[k]);
            long dim = shape[a], step = steps[k];
            long s = starts[k], e = ends[k];
            if (s < 0) s += dim;
            if (e < 0) e += dim;
            if (step > 0)
            {
                s = Math.Min(Math.Max(s, 0), dim);
                e = Math.Min(Math.Max(e, 0), dim);
                outShape[a] = e > s ? (e - s + step - 1) / step : 0;
            }
            else
            {
                s = Math.Min(Math.Max(s, 0), dim - 1);
                e = Math.Min(Math.Max(e, -1), dim - 1);
                outShape[a] = s > e ? (s - e - step - 1) / -step : 0;
            }
            st[a] = s; sp[a] = step;
        }
        var y = new double[Count(outShape)];
        for (long k = 0; k < y.Length; k++)
        {
            var oi = Unravel(k, outShape);
            var xi = new long[r];
            for (int i = 0; i < r; i++) xi[i] = st[i] + oi[i] * sp[i];
            y[k] = x[Flat(xi, shape)];
        }
        return (outShape, y);
    }

    public static double[] Gather(long[] shape, double[] x, long[] indexShape, long[] indices, int axis)
    {
        var outShape = shape.Take(axis).Concat(indexShape).Concat(shape.Skip(axis + 1)).ToArray();
        var y = new double[Count(outShape)];
        for (long k = 0; k < y.Length; k++)
        {
            var oi = Unravel(k, outShape);
            var ii = oi.Skip(axis).Take(indexShape.Length).ToArray();
            long j = indices[Flat(ii, indexShape)];
            if (j < 0) j += shape[axis];
            var xi = oi.Take(axis).Append(j).Concat(oi.Skip(axis + indexShape.Length)).ToArray();
            y[k] = x[Flat(xi, shape)];
        }
        return y;
    }

    public static double[] GatherElements(long[] shape, double[] x, long[] indexShape, long[] indices, int axis)
    {
        var y = new double[Count(indexShape)];
        for (long k = 0; k < y.Length; k++)
        {
            var xi = Unravel(k, indexShape);
            long j = indices[k];
            xi[axis] = j < 0 ? j + shape[axis] : j;
            y[k] = x[Flat(xi, shape)];
        }
        return y;
    }

    public static double[] Expand(long[] shape, double[] x, long[] target)
    {
        var outShape = BroadcastShape(shape, target);
        var y = new double[Count(outShape)];
        for (long k = 0; k < y.Length; k++) y[k] = x[BroadcastIndex(Unravel(k, outShape), shape)];
        return y;
    }

    public static double[] Tile(long[] shape, double[] x, long[] repeats)
    {
        var outShape = shape.Select((d, i) => d * repeats[i]).ToArray();
        var y = new double[Count(outShape)];
        for (long k = 0; k < y.Length; k++)
        {
            var oi = Unravel(k, outShape);
            for (int i = 0; i < oi.Length; i++) oi[i] %= shape[i];
            y[k] = x[Flat(oi, shape)];
        }
        return y;
    }

    /// <summary>Constant-mode Pad over all axes; pads = [begin_0.., end_0..], negative pads crop.</summary>
    public static double[] Pad(long[] shape, double[] x, long[] pads, double value)
    {
        int r = shape.Length;
        var outShape = shape.Select((d, i) => d + pads[i] + pads[i + r]).ToArray();
        var y = new double[Count(outShape)];
        for (long k = 0; k < y.Length; k++)
        {
            var oi = Unravel(k, outShape);
            var xi = new long[r];
            bool inside = true;
            for (int i = 0; i < r; i++)
            {
                xi[i] = oi[i] - pads[i];
                if (xi[i] < 0 || xi[i] >= shape[i]) inside = false;
            }
            y[k] = inside ? x[Flat(xi, shape)] : value;
        }
        return y;
    }
}

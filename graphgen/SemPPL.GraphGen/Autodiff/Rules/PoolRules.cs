using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>The attributes of a 2-D MaxPool/AveragePool node with ONNX defaults.</summary>
internal sealed record PoolGeometry(long[] Kernel, long[] Strides, long[] Pads, bool Ceil, long[] XShape, long[] YShape)
{
    public static PoolGeometry Of(Node node)
    {
        if (node.AttrString("auto_pad") is { } ap && ap != "NOTSET")
            throw new NotSupportedException($"{node}: auto_pad={ap} is not supported by the {node.OpType} gradient; write explicit pads");
        if (node.AttrInts("dilations") is { } dl && dl.Any(v => v != 1))
            throw new NotSupportedException($"{node}: dilated pooling has no gradient rule");
        var x = node.Input(0); var y = node.Outputs[0];
        if (x.Rank != 4) throw new NotSupportedException($"{node}: only 2-D pooling (NCHW) has a gradient rule");
        if (!x.IsStatic || !y.IsStatic) throw new NotSupportedException($"{node}: the pooling gradient needs static shapes (x {Shapes.Str(x.Shape)})");
        var kernel = node.AttrInts("kernel_shape") ?? throw new InvalidOperationException($"{node}: kernel_shape is required");
        return new PoolGeometry(kernel, node.AttrInts("strides") ?? [1, 1], node.AttrInts("pads") ?? [0, 0, 0, 0],
            node.AttrInt("ceil_mode", 0) != 0, x.Shape, y.Shape);
    }
}

/// <summary>
/// MaxPool: re-runs the pool with indices (or uses the node's own Indices output) and scatter-adds dY into a
/// flat zero tensor at those indices. ORT's indices are row-major over the whole N*C*H*W input (verified by
/// the tests on the CPU EP; the CUDA kernel max_pool_with_index.cu adds the same (n*C + c)*H*W offset), so one
/// ScatterElements over the flattened input suffices; "add" sums the gradient of an input that is the maximum of
/// several overlapping windows. Cost on the CPU EP (1 thread, x [32,64,32,32], 3x3/2 p1): the pool with indices
/// ~14 ms (ORT's indices path is a plain loop, not MLAS), the scatter ~2 ms more. A training graph that builds its
/// forward with GraphBuilder.MaxPoolWithIndices pays for the pool once.
/// </summary>
public sealed class MaxPoolRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["MaxPool"];

    public void Backward(GradientContext ctx)
    {
        if (!ctx.NeedsGrad(0) || ctx.OutputGrad(0) is not { } dy) return;
        var g = ctx.G; var node = ctx.Node; var x = ctx.X(0);
        if (node.AttrInt("storage_order", 0) != 0) throw new NotSupportedException($"{node}: column-major storage_order has no gradient rule");
        var geo = PoolGeometry.Of(node);
        var indices = node.Outputs.Length > 1
            ? node.Outputs[1]
            : g.MaxPoolWithIndices(x, geo.Kernel, geo.Strides, geo.Pads, geo.Ceil).Indices;
        if (!indices.Shape.SequenceEqual(dy.Shape))
            throw new ShapeException($"MaxPool gradient: indices {Shapes.Str(indices.Shape)} do not match the output {Shapes.Str(dy.Shape)}");
        var flat = g.ScatterElements(g.Zeros(x.Type, x.ElementCount), g.Reshape(indices, -1), g.Reshape(dy, -1), 0, "add");
        ctx.AddGrad(0, g.Reshape(flat, x.Shape));
    }
}

/// <summary>
/// AveragePool: dY divided by each window's count (a scalar 1/(kH*kW) when every window counts the same, else a
/// constant [Ho, Wo] map of 1/count, e.g. border windows with count_include_pad = 0), then spread back over the
/// windows by a ConvTranspose with a ones kernel on [N*C, 1, Ho, Wo] (all channels as batch: no grouped conv).
/// </summary>
public sealed class AveragePoolRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["AveragePool"];

    public void Backward(GradientContext ctx)
    {
        if (!ctx.NeedsGrad(0)) return;
        var g = ctx.G; var node = ctx.Node; var x = ctx.X(0); var dy = ctx.OutputGrad()!;
        var geo = PoolGeometry.Of(node);
        bool includePad = node.AttrInt("count_include_pad", 0) != 0;
        long n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], ho = dy.Shape[2], wo = dy.Shape[3];
        long kh = geo.Kernel[0], kw = geo.Kernel[1];
        var s = geo.Strides; var p = geo.Pads;

        // Count of the positions each window averages (ORT: inside the input, or inside the padded input).
        var inv = new float[ho * wo];
        for (long oy = 0; oy < ho; oy++)
        for (long ox = 0; ox < wo; ox++)
        {
            long lo = includePad ? -p[0] : 0, hi = includePad ? h + p[2] : h;
            long loX = includePad ? -p[1] : 0, hiX = includePad ? w + p[3] : w;
            long y0 = oy * s[0] - p[0], x0 = ox * s[1] - p[1];
            long rows = Math.Max(0, Math.Min(y0 + kh, hi) - Math.Max(y0, lo));
            long cols = Math.Max(0, Math.Min(x0 + kw, hiX) - Math.Max(x0, loX));
            inv[oy * wo + ox] = 1f / Math.Max(1, rows * cols);
        }
        Value scaled = inv.All(v => v == inv[0])
            ? g.Mul(dy, inv[0])
            : g.Mul(dy, g.Constant(HostTensor.Float([1, 1, ho, wo], inv), "avgpool_inv_count"));

        var ones = g.Constant(HostTensor.Filled(x.Type, [1, 1, kh, kw], 1.0), "avgpool_ones");
        var dx = ConvBackward.ScatterBack(g, g.Reshape(scaled, n * c, 1, ho, wo), ones, s, [1, 1], 1, [p[0], p[1]], [h, w]);
        if (dx.Shape[2] != h || dx.Shape[3] != w)
            throw new ShapeException($"AveragePool gradient: ConvTranspose gives {Shapes.Str(dx.Shape)}, input is {Shapes.Str(x.Shape)}");
        ctx.AddGrad(0, g.Reshape(dx, x.Shape));
    }
}

/// <summary>GlobalAveragePool: dX = expand(dY / (H*W...)) over the spatial axes.</summary>
public sealed class GlobalAveragePoolRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["GlobalAveragePool"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0);
        if (!x.IsStatic) throw new NotSupportedException($"{ctx.Node}: the GlobalAveragePool gradient needs static spatial sizes");
        long spatial = Shapes.Product(x.Shape.Skip(2));
        ctx.AddGrad(0, g.Expand(g.Mul(ctx.OutputGrad()!, 1f / spatial), x.Shape));
    }
}

namespace SemPPL.GraphGen.Onnx;

// Convolution, pooling and inference-mode BatchNormalization (2-D, NCHW).
public sealed partial class GraphBuilder
{
    private static long[] Pairs(long[]? v, long fallback, int n) => v ?? Enumerable.Repeat(fallback, n).ToArray();

    /// <summary>Conv with explicit pads [top, left, bottom, right]; weight [M, C/group, kH, kW].</summary>
    public Value Conv(Value x, Value w, Value? bias = null, long[]? strides = null, long[]? pads = null, long[]? dilations = null, long group = 1)
    {
        if (x.Rank != 4 || w.Rank != 4) throw ShapeException.For("Conv", "only 2-D convolution (NCHW input, 4-D weight) is supported", x, w);
        var s = Pairs(strides, 1, 2); var p = Pairs(pads, 0, 4); var d = Pairs(dilations, 1, 2);
        long c = x.Shape[1];
        if (c >= 0 && w.Shape[1] * group != c) throw ShapeException.For("Conv", $"input channels {c} != weight channels {w.Shape[1]} x group {group}", x, w);
        if (w.Shape[0] % group != 0) throw ShapeException.For("Conv", $"output channels {w.Shape[0]} not divisible by group {group}", x, w);
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != w.Shape[0])) throw ShapeException.For("Conv", "bias must be [M]", x, w, bias);
        long ho = Shapes.WindowOut(x.Shape[2], w.Shape[2], s[0], p[0], p[2], d[0]);
        long wo = Shapes.WindowOut(x.Shape[3], w.Shape[3], s[1], p[1], p[3], d[1]);
        if ((x.Shape[2] >= 0 && ho <= 0) || (x.Shape[3] >= 0 && wo <= 0)) throw ShapeException.For("Conv", "kernel larger than the padded input", x, w);
        var attrs = new Dictionary<string, Attr>
        {
            ["kernel_shape"] = Attr.IntList(w.Shape[2], w.Shape[3]),
            ["strides"] = Attr.IntList(s),
            ["pads"] = Attr.IntList(p),
            ["dilations"] = Attr.IntList(d),
            ["group"] = Attr.Int(group),
        };
        return AddNode1("Conv", [x, w, bias], x.Type, [x.Shape[0], w.Shape[0], ho, wo], attrs);
    }

    /// <summary>ConvTranspose; weight [C, M/group, kH, kW]; output size from strides, pads and output_padding.</summary>
    public Value ConvTranspose(Value x, Value w, Value? bias = null, long[]? strides = null, long[]? pads = null,
        long[]? outputPadding = null, long[]? dilations = null, long group = 1)
    {
        if (x.Rank != 4 || w.Rank != 4) throw ShapeException.For("ConvTranspose", "only 2-D is supported", x, w);
        var s = Pairs(strides, 1, 2); var p = Pairs(pads, 0, 4); var op = Pairs(outputPadding, 0, 2); var d = Pairs(dilations, 1, 2);
        if (x.Shape[1] != w.Shape[0]) throw ShapeException.For("ConvTranspose", "input channels must equal weight dim 0", x, w);
        long Out(long i, int k) => i < 0 ? -1 : s[k] * (i - 1) + op[k] + (w.Shape[2 + k] - 1) * d[k] + 1 - p[k] - p[k + 2];
        var attrs = new Dictionary<string, Attr>
        {
            ["kernel_shape"] = Attr.IntList(w.Shape[2], w.Shape[3]),
            ["strides"] = Attr.IntList(s),
            ["pads"] = Attr.IntList(p),
            ["dilations"] = Attr.IntList(d),
            ["group"] = Attr.Int(group),
        };
        if (op.Any(v => v != 0)) attrs["output_padding"] = Attr.IntList(op);
        return AddNode1("ConvTranspose", [x, w, bias], x.Type, [x.Shape[0], w.Shape[1] * group, Out(x.Shape[2], 0), Out(x.Shape[3], 1)], attrs);
    }

    private (long[] Shape, Dictionary<string, Attr> Attrs) Pool(string op, Value x, long[] kernel, long[]? strides, long[]? pads, bool ceil)
    {
        if (x.Rank != 4) throw ShapeException.For(op, "input must be NCHW", x);
        var s = Pairs(strides, 1, 2); var p = Pairs(pads, 0, 4);
        long ho = Shapes.WindowOut(x.Shape[2], kernel[0], s[0], p[0], p[2], 1, ceil);
        long wo = Shapes.WindowOut(x.Shape[3], kernel[1], s[1], p[1], p[3], 1, ceil);
        var attrs = new Dictionary<string, Attr>
        {
            ["kernel_shape"] = Attr.IntList(kernel),
            ["strides"] = Attr.IntList(s),
            ["pads"] = Attr.IntList(p),
        };
        if (ceil) attrs["ceil_mode"] = Attr.Int(1);
        return ([x.Shape[0], x.Shape[1], ho, wo], attrs);
    }

    public Value MaxPool(Value x, long[] kernel, long[]? strides = null, long[]? pads = null, bool ceil = false)
    {
        var (shape, attrs) = Pool("MaxPool", x, kernel, strides, pads, ceil);
        return AddNode1("MaxPool", [x], x.Type, shape, attrs);
    }

    /// <summary>MaxPool returning the flat indices of the maxima too (row-major over the whole input tensor).</summary>
    public (Value Y, Value Indices) MaxPoolWithIndices(Value x, long[] kernel, long[]? strides = null, long[]? pads = null, bool ceil = false)
    {
        var (shape, attrs) = Pool("MaxPool", x, kernel, strides, pads, ceil);
        var o = AddNode("MaxPool", [x], [(x.Type, shape), (DType.Int64, shape)], attrs);
        return (o[0], o[1]);
    }

    public Value AveragePool(Value x, long[] kernel, long[]? strides = null, long[]? pads = null, bool countIncludePad = false, bool ceil = false)
    {
        var (shape, attrs) = Pool("AveragePool", x, kernel, strides, pads, ceil);
        if (countIncludePad) attrs["count_include_pad"] = Attr.Int(1);
        return AddNode1("AveragePool", [x], x.Type, shape, attrs);
    }

    public Value GlobalAveragePool(Value x)
    {
        if (x.Rank < 3) throw ShapeException.For("GlobalAveragePool", "input must be N,C,spatial...", x);
        var shape = x.Shape.Select((d, i) => i < 2 ? d : 1).ToArray();
        return AddNode1("GlobalAveragePool", [x], x.Type, shape);
    }

    /// <summary>Inference-mode BatchNormalization (running statistics). Training mode is decomposed: see Models.</summary>
    public Value BatchNormInference(Value x, Value scale, Value bias, Value mean, Value variance, float epsilon = 1e-5f)
    {
        long c = x.Shape[1];
        foreach (var v in new[] { scale, bias, mean, variance })
            if (v.Rank != 1 || v.Shape[0] != c) throw ShapeException.For("BatchNormalization", $"scale/bias/mean/var must be [{c}]", x, v);
        return AddNode1("BatchNormalization", [x, scale, bias, mean, variance], x.Type, x.Shape,
            new() { ["epsilon"] = Attr.Float(epsilon) });
    }
}

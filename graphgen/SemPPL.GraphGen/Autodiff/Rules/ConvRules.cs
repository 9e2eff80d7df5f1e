using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>The geometry of a 2-D Conv node: attributes with ONNX defaults, and the derived sizes.</summary>
public sealed record ConvGeometry(long[] Strides, long[] Pads, long[] Dilations, long Group, long[] XShape, long[] WShape, long[] YShape)
{
    public long N => XShape[0];
    public long C => XShape[1];
    public long H => XShape[2];
    public long W => XShape[3];
    public long M => WShape[0];
    public long KH => WShape[2];
    public long KW => WShape[3];
    public long Ho => YShape[2];
    public long Wo => YShape[3];

    /// <summary>Rows/columns of the input the last window reaches past, per axis: (Ho-1)*s + (k-1)*d + 1 - pad_begin - H (may be negative).</summary>
    public long[] Overhang =>
    [
        (Ho - 1) * Strides[0] + (KH - 1) * Dilations[0] + 1 - Pads[0] - H,
        (Wo - 1) * Strides[1] + (KW - 1) * Dilations[1] + 1 - Pads[1] - W,
    ];

    /// <summary>
    /// ConvTranspose output_padding that restores the input size from the output size: H - (s*(Ho-1) + (k-1)*d + 1 - pt - pb),
    /// i.e. (H + pt + pb - ((k-1)*d + 1)) mod s, the input rows past the last full window. Always in [0, s).
    /// With symmetric pads this is what <see cref="ConvBackward.ScatterBack"/> uses.
    /// </summary>
    public long[] OutputPadding => [Pads[2] - Overhang[0], Pads[3] - Overhang[1]];

    public static ConvGeometry Of(Node node)
    {
        if (node.AttrString("auto_pad") is { } ap && ap != "NOTSET")
            throw new NotSupportedException($"{node}: auto_pad={ap} is not supported by the Conv gradient; write explicit pads");
        var x = node.Input(0); var w = node.Input(1); var y = node.Outputs[0];
        if (x.Rank != 4 || w.Rank != 4) throw new NotSupportedException($"{node}: only 2-D Conv has a gradient rule");
        if (!x.IsStatic || !y.IsStatic) throw new NotSupportedException($"{node}: the Conv gradient needs static shapes (x {Shapes.Str(x.Shape)})");
        return new ConvGeometry(
            node.AttrInts("strides") ?? [1, 1],
            node.AttrInts("pads") ?? [0, 0, 0, 0],
            node.AttrInts("dilations") ?? [1, 1],
            node.AttrInt("group", 1),
            x.Shape, w.Shape, y.Shape);
    }
}

/// <summary>How the Conv weight gradient is formed.</summary>
public enum ConvWeightGradMethod
{
    /// <summary>
    /// GatherIm2Col (group 1) or Im2Col (other groups), unless the column buffer would exceed
    /// <see cref="ConvBackward.Im2ColMaxElements"/>, then DilatedConv.
    /// </summary>
    Auto,
    /// <summary>Unfold the padded input by kH*kW strided Slices, one batched MatMul with dY (sums over the batch inside the product).</summary>
    Im2Col,
    /// <summary>A Conv of the (channel-major) input with dY as the kernel, dilated by the forward stride.</summary>
    DilatedConv,
    /// <summary>
    /// Unfold the channels-last padded input with one Gather of all kH*kW taps (runs of C floats, no Concat pass), then
    /// a MatMul per tap with dY; group 1 only (other groups take Im2Col).
    /// </summary>
    GatherIm2Col,
    /// <summary>
    /// As GatherIm2Col with the taps innermost: one GEMM of width kH*kW*C instead of one of width C per tap (group 1
    /// only). Not chosen by Auto: faster on case (a)'s first stage ([160,64,32,32]: 444-600 vs 710-845 ms min,
    /// 2 threads) and about even elsewhere, but no faster per step on a quiet machine, back to back with GatherIm2Col
    /// (case a 4,710 / 4,997 vs 4,757 / 4,775 ms, case b 164 / 168 / 166 vs 161 / 165 / 168 ms median;
    /// docs/results/step-weight-gradient-ab-2026-12-02.log).
    /// </summary>
    GatherIm2ColWide,
}

/// <summary>
/// Conv backward from standard ops (shared by the rule, tests and benchmarks).
///
/// Weight-gradient formulations timed with ORT 1.31, CPU EP, 1 intra-op thread, on a 2-core x64 VM shared
/// with other jobs (ConvBackwardBenchmarks in the tests, 60 interleaved rounds; min / median ms), on a
/// ResNet-ish layer x, dY = [32,64,16,16], w [64,64,3,3], pad 1:
///   stride 1:  Im2Col 6.1 / 7.6    DilatedConv 11.7 / 16.4   (im2col 1.9x faster; forward Conv 4.3 / 4.6, dX 4.0 / 5.4)
///   stride 2:  Im2Col 2.8 / 3.2    DilatedConv 3.0 / 3.3     (a tie)
/// With 2 threads (noisier under the load) the minima were 6.8 vs 14.2 ms at stride 1. So Im2Col was the
/// default, as docs/design.md records; Auto falls back to DilatedConv only when the column buffer would be huge.
/// GatherIm2Col (one Gather of channels-last rows instead of kH*kW strided Slices + Concat), same benchmark with
/// the quickstart's layers added, 1 thread, min ms Im2Col -> GatherIm2Col:
///   [32,64,16,16] s1 6.21 -> 5.76, s2 2.91 -> 1.65;  [80,16,14,14] s1 1.94 -> 1.80, s2 1.25 -> 0.60;
///   [80,64,4,4] s1 1.68 -> 0.89, s2 0.85 -> 0.30.
/// Faster in every case (most where the spatial size is small), so Auto uses it for group 1.
/// </summary>
public static class ConvBackward
{
    /// <summary>
    /// Largest unfolded column buffer (elements, C*kH*kW*N*Ho*Wo: 256 Mi = 268 M elements = 1 GiB of float) that Auto builds
    /// before switching to DilatedConv, whose extra memory is only input-sized. E.g. ResNet-50 layer1 3x3 at batch 256,
    /// 56x56 (462 M elements) takes DilatedConv; CIFAR ResNet-18 layer1 at batch 256, 32x32 (151 M) takes Im2Col.
    /// </summary>
    public const long Im2ColMaxElements = 256L << 20;

    /// <summary>dX = ConvTranspose(dY, W) with the forward strides, dilations, group, and pads/output_padding that restore H, W.</summary>
    public static Value InputGradient(GraphBuilder g, Value dy, Value w, ConvGeometry geo)
    {
        var dx = ScatterBack(g, dy, w, geo.Strides, geo.Dilations, geo.Group, [geo.Pads[0], geo.Pads[1]], [geo.H, geo.W]);
        if (!dx.Shape.SequenceEqual(geo.XShape))
            throw new ShapeException($"Conv input gradient: ConvTranspose gives {Shapes.Str(dx.Shape)}, input is {Shapes.Str(geo.XShape)}");
        return dx;
    }

    /// <summary>
    /// The transpose of a sliding window (Conv, pooling): ConvTranspose of <paramref name="dy"/> [N, M, Ho, Wo] with
    /// <paramref name="w"/>, giving rows [begin, begin + size) of the full (uncropped) ConvTranspose output of length
    /// F = s*(Ho-1) + (k-1)*d + 1 per axis, zero-extended past F. The ConvTranspose always gets symmetric pads,
    /// because ORT's CUDA EP runs ConvTranspose with asymmetric pads on the CPU (cuDNN has none): with e = F - begin - size
    /// (rows to crop at the end), pads (begin, begin) and output_padding begin - e when 0 &lt;= begin - e &lt; s (the usual
    /// case, symmetric forward pads: output_padding = (H + 2p - (k-1)*d - 1) mod s); otherwise pads (q, q) with
    /// q = max(0, min(begin, e)), output_padding max(0, -e), and a Slice of the rest.
    /// </summary>
    public static Value ScatterBack(GraphBuilder g, Value dy, Value w, long[] strides, long[] dilations, long group, long[] begin, long[] size)
    {
        var pad = new long[4]; var outPad = new long[2]; var sliceStart = new long[2];
        bool slice = false;
        for (int a = 0; a < 2; a++)
        {
            long s = strides[a], f = s * (dy.Shape[2 + a] - 1) + (w.Shape[2 + a] - 1) * dilations[a] + 1;
            long e = f - begin[a] - size[a];
            long q, op;
            if (e <= begin[a] && begin[a] - e < s) { q = begin[a]; op = begin[a] - e; }
            else { q = Math.Max(0, Math.Min(begin[a], e)); op = Math.Max(0, -e); slice = true; }
            if (op >= Math.Max(s, dilations[a]))
                throw new ShapeException($"window transpose: output_padding {op} would not be below stride {s} (axis {a}, begin {begin[a]}, size {size[a]}, full {f})");
            pad[a] = pad[a + 2] = q; outPad[a] = op; sliceStart[a] = begin[a] - q;
        }
        var r = g.ConvTranspose(dy, w, null, strides, pad, outPad.Any(v => v != 0) ? outPad : null, dilations, group);
        if (slice && (sliceStart.Any(v => v != 0) || r.Shape[2] != size[0] || r.Shape[3] != size[1]))
            r = g.Slice(r, sliceStart, [sliceStart[0] + size[0], sliceStart[1] + size[1]], [2, 3]);
        return r;
    }

    /// <summary>dB = sum of dY over N, H, W.</summary>
    public static Value BiasGradient(GraphBuilder g, Value dy) => g.ReduceSum(dy, [0, 2, 3]);

    public static Value WeightGradient(GraphBuilder g, Value x, Value dy, ConvGeometry geo, ConvWeightGradMethod method = ConvWeightGradMethod.Auto)
    {
        if (method == ConvWeightGradMethod.Auto)
            method = geo.C * geo.KH * geo.KW * geo.N * geo.Ho * geo.Wo > Im2ColMaxElements ? ConvWeightGradMethod.DilatedConv
                : geo.Group == 1 ? ConvWeightGradMethod.GatherIm2Col : ConvWeightGradMethod.Im2Col;
        return method switch
        {
            ConvWeightGradMethod.Im2Col => WeightGradientIm2Col(g, x, dy, geo),
            ConvWeightGradMethod.GatherIm2Col when geo.Group == 1 => WeightGradientGather(g, x, dy, geo),
            ConvWeightGradMethod.GatherIm2Col => WeightGradientIm2Col(g, x, dy, geo),
            ConvWeightGradMethod.GatherIm2ColWide when geo.Group == 1 => WeightGradientGatherWide(g, x, dy, geo),
            ConvWeightGradMethod.GatherIm2ColWide => WeightGradientIm2Col(g, x, dy, geo),
            _ => WeightGradientDilatedConv(g, x, dy, geo),
        };
    }

    /// <summary>
    /// dW[m, c, i, j] = sum_p dY[p, m] * Xpad[n(p), oy(p)*s + i*d, ox(p)*s + j*d, c] (group 1). The input is transposed
    /// once to channels-last and padded with zero rows above and below, flattened to rows [N*Hp*W, C]; one Gather picks,
    /// for every tap k and output position p, its row (a zero row where the tap is beside the image): cols [K, N*L, C].
    /// dY^T [M, N*L] times each tap's cols gives [K, M, C], transposed (small) to [M, C, kH, kW]. The row indices are
    /// tapRow[k, l] + base[n], two small constants added in the graph (ORT folds them at session start), so the file
    /// does not carry a K*N*L index table.
    /// </summary>
    public static Value WeightGradientGather(GraphBuilder g, Value x, Value dy, ConvGeometry geo)
    {
        if (geo.Group != 1) throw new NotSupportedException("Conv weight gradient by Gather: group 1 only");
        long n = geo.N, c = geo.C, m = geo.M, k = geo.KH * geo.KW, l = geo.Ho * geo.Wo;
        var (rows, tapRow, sampleBase) = ConvWeightGradientForms.ChannelsLastRows(g, x, geo);
        var index = g.Add(g.Constant(HostTensor.Int64([k, 1, l], tapRow), "tap_row"), g.Constant(HostTensor.Int64([1, n, 1], sampleBase), "sample_base"));
        var cols = g.Gather(rows, g.Reshape(index, k, n * l), 0);                      // [K, N*L, C]
        var dyt = g.Reshape(g.Transpose(g.Reshape(dy, n, m, l), 1, 0, 2), m, n * l);  // [M, N*L]
        var prod = g.MatMul(dyt, cols);                                                // [K, M, C]
        return g.Reshape(g.Transpose(prod, 1, 2, 0), m, c, geo.KH, geo.KW);
    }

    /// <summary>As <see cref="WeightGradientGather"/>, but the Gather's index is [N*L, K] (taps innermost), so cols is
    /// [N*L, K*C] and dW is one GEMM dY^T [M, N*L] x cols (N = K*C wide) instead of K products of width C.</summary>
    public static Value WeightGradientGatherWide(GraphBuilder g, Value x, Value dy, ConvGeometry geo)
    {
        if (geo.Group != 1) throw new NotSupportedException("Conv weight gradient by Gather: group 1 only");
        long n = geo.N, c = geo.C, m = geo.M, k = geo.KH * geo.KW, l = geo.Ho * geo.Wo;
        var (rows, tapRow, sampleBase) = ConvWeightGradientForms.ChannelsLastRows(g, x, geo);
        var tapRowPositionsMajor = new long[k * l]; // [L, K]
        for (long t = 0; t < k; t++) for (long q = 0; q < l; q++) tapRowPositionsMajor[q * k + t] = tapRow[t * l + q];
        var index = g.Add(g.Constant(HostTensor.Int64([n, 1, 1], sampleBase), "sample_base"), g.Constant(HostTensor.Int64([1, l, k], tapRowPositionsMajor), "tap_row"));
        var cols = g.Reshape(g.Gather(rows, g.Reshape(index, n * l, k), 0), n * l, k * c); // [N*L, K*C]
        var dyt = g.Reshape(g.Transpose(g.Reshape(dy, n, m, l), 1, 0, 2), m, n * l);     // [M, N*L]
        var prod = g.Reshape(g.MatMul(dyt, cols), m, k, c);                              // [M, K, C]
        return g.Reshape(g.Transpose(prod, 0, 2, 1), m, c, geo.KH, geo.KW);
    }

    /// <summary>
    /// dW[m, c', i, j] = sum_{n, oy, ox} dY[n, m, oy, ox] * Xpad[n, g*C/G + c', oy*s + i*d, ox*s + j*d] (m in group g).
    /// The input is transposed once to [C, N, H, W] and padded; each of the kH*kW taps is a strided Slice
    /// [C, N, Ho, Wo]; concatenated they form cols [G, C/G*kH*kW, N*Ho*Wo]; dY becomes [G, N*Ho*Wo, M/G];
    /// cols x dY is [G, C/G*kH*kW, M/G], transposed (small) to [M, C/G, kH, kW]. Only input- and output-sized
    /// transposes are built, never one of the column buffer.
    /// </summary>
    public static Value WeightGradientIm2Col(GraphBuilder g, Value x, Value dy, ConvGeometry geo)
    {
        long n = geo.N, c = geo.C, grp = geo.Group, cg = c / grp, m = geo.M, mg = m / grp, k = geo.KH * geo.KW, l = geo.Ho * geo.Wo;
        var s = geo.Strides; var d = geo.Dilations; var p = geo.Pads; var over = geo.Overhang;
        var xt = g.Transpose(x, 1, 0, 2, 3); // [C, N, H, W]
        long padEndH = Math.Max(0, over[0]), padEndW = Math.Max(0, over[1]);
        if (p[0] != 0 || p[1] != 0 || padEndH != 0 || padEndW != 0)
            xt = g.Pad(xt, [0, 0, p[0], p[1], 0, 0, padEndH, padEndW]);
        var taps = new List<Value>((int)k);
        for (long i = 0; i < geo.KH; i++)
        for (long j = 0; j < geo.KW; j++)
        {
            long y0 = i * d[0], x0 = j * d[1];
            var tap = g.Slice(xt, [y0, x0], [y0 + (geo.Ho - 1) * s[0] + 1, x0 + (geo.Wo - 1) * s[1] + 1], [2, 3], [s[0], s[1]]);
            taps.Add(g.Reshape(tap, c, 1, n * l));
        }
        var cols = g.Concat(taps, 1); // [C, K, N*L]
        Value dyt;
        Value prod;
        if (grp == 1)
        {
            cols = g.Reshape(cols, c * k, n * l);
            dyt = g.Reshape(g.Transpose(g.Reshape(dy, n, m, l), 0, 2, 1), n * l, m); // [N*L, M]
            prod = g.MatMul(cols, dyt);                                               // [C*K, M]
            return g.Reshape(g.Transpose(prod, 1, 0), m, cg, geo.KH, geo.KW);
        }
        cols = g.Reshape(cols, grp, cg * k, n * l);
        dyt = g.Reshape(g.Transpose(g.Reshape(dy, n, grp, mg, l), 1, 0, 3, 2), grp, n * l, mg); // [G, N*L, M/G]
        prod = g.MatMul(cols, dyt);                                                              // [G, C/G*K, M/G]
        return g.Reshape(g.Transpose(prod, 0, 2, 1), m, cg, geo.KH, geo.KW);
    }

    /// <summary>
    /// dW as a Conv: input X as [C/G, G*N, H, W] (batch = in-group channel, channels = (group, sample)), kernel dY as
    /// [M, N, Ho, Wo], group G, strides = forward dilations, dilations = forward strides, the forward pads (end pads
    /// trimmed so the output is exactly kH x kW where possible) -> [C/G, M, kH, kW], transposed to [M, C/G, kH, kW].
    /// </summary>
    public static Value WeightGradientDilatedConv(GraphBuilder g, Value x, Value dy, ConvGeometry geo)
    {
        long n = geo.N, c = geo.C, grp = geo.Group, cg = c / grp;
        var s = geo.Strides; var d = geo.Dilations; var p = geo.Pads; var over = geo.Overhang;
        Value xt = grp == 1
            ? g.Transpose(x, 1, 0, 2, 3)
            : g.Reshape(g.Transpose(g.Reshape(x, n, grp, cg, geo.H, geo.W), 2, 1, 0, 3, 4), cg, grp * n, geo.H, geo.W);
        // End pads: exactly the overhang of the last window; input rows past it never meet a tap, so crop them.
        long endH = over[0], endW = over[1];
        if (endH < 0 || endW < 0)
        {
            xt = g.Slice(xt, [0, 0], [geo.H + Math.Min(0, endH), geo.W + Math.Min(0, endW)], [2, 3]);
            endH = Math.Max(0, endH); endW = Math.Max(0, endW);
        }
        var kernel = g.Transpose(dy, 1, 0, 2, 3); // [M, N, Ho, Wo]
        var r = g.Conv(xt, kernel, null, strides: [d[0], d[1]], pads: [p[0], p[1], endH, endW], dilations: [s[0], s[1]], group: grp);
        if (r.Shape[2] != geo.KH || r.Shape[3] != geo.KW)
            throw new ShapeException($"Conv weight gradient: dilated Conv gives {Shapes.Str(r.Shape)}, kernel is {geo.KH}x{geo.KW}");
        return g.Transpose(r, 1, 0, 2, 3);
    }
}

/// <summary>
/// Conv (2-D, any strides/pads/dilations/group, optional bias): dX by ConvTranspose, dW by im2col (one Gather for
/// group 1) + MatMul (or a dilated Conv for very large column buffers), dB by ReduceSum over N, H, W.
/// </summary>
public sealed class ConvRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Conv"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var dy = ctx.OutputGrad()!;
        var geo = ConvGeometry.Of(ctx.Node);
        if (ctx.NeedsGrad(0)) ctx.AddGrad(0, ConvBackward.InputGradient(g, dy, ctx.X(1), geo));
        if (ctx.NeedsGrad(1)) ctx.AddGrad(1, ConvBackward.WeightGradient(g, ctx.X(0), dy, geo));
        if (ctx.NeedsGrad(2)) ctx.AddGrad(2, ConvBackward.BiasGradient(g, dy));
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// Conv weight-gradient pieces beside <see cref="ConvBackward"/>: the channels-last rows and index terms its Gather forms
/// share, and a batched-MatMul form for 1x1 kernels, for devices where the Gather forms' products are slow (today's
/// form multiplies dY^T [M, N*L] with each of the kH*kW taps' columns [K, N*L, C] in a 2-D x 3-D MatMul, which ORT
/// cannot run as one strided batched GEMM, so dY is read once per tap). Not used by the rule yet: the cuda-profile
/// benchmark times it against the rule's forms per conv kind; the winner per kind becomes the rule's choice.
/// </summary>
public static class ConvWeightGradientForms
{
    /// <summary>
    /// The padded input as channels-last rows [N*Hp*Wp, C], and the row-index terms of a window tap: the row of tap k of
    /// output position l of sample n is sampleBase[n] + position[l] + offset[k] (runs of C floats per row).
    /// </summary>
    internal static (Value Rows, long[] Offset, long[] Position, long[] SampleBase) ChannelsLastRows(GraphBuilder g, Value x, ConvGeometry geo)
    {
        var s = geo.Strides; var d = geo.Dilations; var p = geo.Pads; var over = geo.Overhang;
        long padEndH = Math.Max(0, over[0]), padEndW = Math.Max(0, over[1]);
        long hp = geo.H + p[0] + padEndH, wp = geo.W + p[1] + padEndW;
        var xt = g.Transpose(x, 0, 2, 3, 1); // [N, H, W, C]
        // padded as [N, H, W*C] (W by q is W*C by q*C): ORT's Pad copies runs of the innermost axis, C floats as
        // [N, H, W, C], whole rows of W*C floats as this (case (b)'s first stage, C = 16: about half the time)
        if (p[0] != 0 || p[1] != 0 || padEndH != 0 || padEndW != 0)
            xt = g.Pad(g.Reshape(xt, geo.N, geo.H, geo.W * geo.C), [0, p[0], p[1] * geo.C, 0, padEndH, padEndW * geo.C]);
        var offset = new long[geo.KH * geo.KW];
        for (long i = 0; i < geo.KH; i++)
        for (long j = 0; j < geo.KW; j++)
            offset[i * geo.KW + j] = i * d[0] * wp + j * d[1];
        var position = new long[geo.Ho * geo.Wo];
        for (long oy = 0; oy < geo.Ho; oy++)
        for (long ox = 0; ox < geo.Wo; ox++)
            position[oy * geo.Wo + ox] = oy * s[0] * wp + ox * s[1];
        var sampleBase = Enumerable.Range(0, (int)geo.N).Select(i => i * hp * wp).ToArray();
        return (g.Reshape(xt, geo.N * hp * wp, geo.C), offset, position, sampleBase);
    }

    /// <summary>
    /// 1x1 kernels (no padding, any stride): per sample, dY[n] [M, L] times x[n]^T [L, C] as one batched
    /// com.microsoft.FusedMatMul (transB, no transpose pass) [N, M, C], then a sum over N. The input is strided first
    /// when the forward stride is not 1.
    /// </summary>
    public static Value BatchedMatMul1x1(GraphBuilder g, Value x, Value dy, ConvGeometry geo)
    {
        if (geo.Group != 1 || geo.KH != 1 || geo.KW != 1 || geo.Pads.Any(v => v != 0))
            throw new NotSupportedException("Conv weight gradient by batched MatMul: 1x1 kernels, group 1, no padding only");
        long n = geo.N, c = geo.C, m = geo.M, l = geo.Ho * geo.Wo;
        var s = geo.Strides;
        var xs = s[0] == 1 && s[1] == 1 ? x
            : g.Slice(x, [0, 0], [(geo.Ho - 1) * s[0] + 1, (geo.Wo - 1) * s[1] + 1], [2, 3], [s[0], s[1]]);
        var perSample = g.AddNode("FusedMatMul", [g.Reshape(dy, n, m, l), g.Reshape(xs, n, c, l)], [(x.Type, [n, m, c])],
            new() { ["transB"] = Attr.Int(1), ["alpha"] = Attr.Float(1f) }, domain: "com.microsoft")[0];
        return g.Reshape(g.ReduceSum(perSample, [0]), m, c, 1, 1);
    }
}

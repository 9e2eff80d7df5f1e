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
    /// The input as channels-last rows [N*Hp*W, C], padded with whole zero rows of the image above and below only, and the
    /// row of each window tap: tap k of output position l of sample n reads row sampleBase[n] + tapRow[k, l] (runs of C
    /// floats per row). A tap left or right of the image reads a zero row of its sample instead of a padded column, so the
    /// pad is one run per sample (ORT's Pad copies runs of its innermost axis: padding W too meant a run per image row,
    /// single-threaded, 0.35 ms for case (b)'s [80, 16, 14, 14], several times a memory pass).
    /// </summary>
    internal static (Value Rows, long[] TapRow, long[] SampleBase) ChannelsLastRows(GraphBuilder g, Value x, ConvGeometry geo)
    {
        var s = geo.Strides; var d = geo.Dilations; var p = geo.Pads; var over = geo.Overhang;
        long top = p[0], bottom = Math.Max(0, over[0]);
        bool beside = p[1] > 0 || over[1] > 0;       // some taps fall left or right of the image
        if (beside && top == 0 && bottom == 0) bottom = 1; // a zero row for them
        long hp = geo.H + top + bottom, w = geo.W, zeroRow = top > 0 ? 0 : (hp - 1) * w;
        var xt = g.Transpose(x, 0, 2, 3, 1); // [N, H, W, C]
        if (top + bottom > 0)
            xt = g.Pad(g.Reshape(xt, geo.N, geo.H * w * geo.C), [0, top * w * geo.C, 0, bottom * w * geo.C]);
        long k = geo.KH * geo.KW, l = geo.Ho * geo.Wo;
        var tapRow = new long[k * l];
        for (long i = 0; i < geo.KH; i++)
        for (long j = 0; j < geo.KW; j++)
        for (long oy = 0; oy < geo.Ho; oy++)
        for (long ox = 0; ox < geo.Wo; ox++)
        {
            long iy = oy * s[0] + i * d[0] - p[0], ix = ox * s[1] + j * d[1] - p[1]; // in [-top, H + bottom) by construction
            tapRow[(i * geo.KW + j) * l + oy * geo.Wo + ox] = ix < 0 || ix >= w ? zeroRow : (iy + top) * w + ix;
        }
        var sampleBase = Enumerable.Range(0, (int)geo.N).Select(i => i * hp * w).ToArray();
        return (g.Reshape(xt, geo.N * hp * w, geo.C), tapRow, sampleBase);
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

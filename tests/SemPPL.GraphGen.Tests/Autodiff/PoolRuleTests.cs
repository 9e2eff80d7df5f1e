using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class PoolRuleTests(ITestOutputHelper output)
{
    /// <summary>Distinct values (a shuffled grid in [-1, 1], spacing 2/n >> the finite-difference step): no ties in any window.</summary>
    private static double[] Distinct(int seed, long[] shape)
    {
        int n = (int)Shapes.Product(shape);
        var v = Enumerable.Range(0, n).Select(i => -1 + 2.0 * i / n).ToArray();
        new Random(seed).Shuffle(v);
        return v;
    }

    // ------------------------------------------------------------------ MaxPool

    [Theory]
    [InlineData("3x3-s2-p1-stem", 3L, 2L, 1L, 1L, 1L, 1L, 7L, 5L)]   // overlapping windows: an input can win twice
    [InlineData("2x2-s2", 2L, 2L, 0L, 0L, 0L, 0L, 7L, 5L)]          // odd sizes: the last row/column is in no window
    [InlineData("3x3-s2-asym", 3L, 2L, 0L, 1L, 1L, 0L, 8L, 6L)]
    [InlineData("3x3-s1-p1", 3L, 1L, 1L, 1L, 1L, 1L, 5L, 7L)]
    public void MaxPool_gradient(string name, long k, long s, long pt, long pl, long pb, long pr, long h, long w)
    {
        long[] xs = [3, 4, h, w];
        long[] kernel = [k, k], strides = [s, s], pads = [pt, pl, pb, pr];
        Check($"MaxPool[{name}]", [new("x", xs, Distinct(51, xs))],
            (g, v) => g.MaxPool(v[0], kernel, strides, pads),
            xs2 => Reference.MaxPool2d(xs, xs2[0], kernel, strides, pads, out _), output);
    }

    [Fact]
    public void MaxPool_with_its_own_indices_output_reuses_them()
    {
        long[] xs = [3, 2, 7, 5];
        Check("MaxPool[with-indices]", [new("x", xs, Distinct(52, xs))],
            (g, v) => g.MaxPoolWithIndices(v[0], [3, 3], [2, 2], [1, 1, 1, 1]).Y,
            xs2 => Reference.MaxPool2d(xs, xs2[0], [3, 3], [2, 2], [1, 1, 1, 1], out _), output);
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 1)]
    public void MaxPool_backward_reruns_the_pool_only_without_indices(bool withIndices, int expectedPools)
    {
        var g = new GraphBuilder("mp");
        var x = g.Input("x", DType.Float, 3, 2, 7, 5);
        var y = withIndices ? g.MaxPoolWithIndices(x, [3, 3], [2, 2], [1, 1, 1, 1]).Y : g.MaxPool(x, [3, 3], [2, 2], [1, 1, 1, 1]);
        SemPPL.GraphGen.Autodiff.Differentiator.Differentiate(g, g.ReduceSum(y), [x]);
        Assert.Equal(expectedPools, g.Nodes.Count(n => n.OpType == "MaxPool"));
        Assert.Single(g.Nodes, n => n.OpType == "ScatterElements" && n.AttrString("reduction") == "add");
    }

    [Fact]
    public void MaxPool_ceil_mode_gradient()
    {
        // 7x5, 2x2 s2 ceil: 4x3 windows, the last ones cut by the input edge.
        long[] xs = [3, 2, 7, 5];
        Check("MaxPool[ceil]", [new("x", xs, Distinct(53, xs))],
            (g, v) => g.MaxPool(v[0], [2, 2], [2, 2], null, ceil: true),
            xs2 => Reference.MaxPool2d(xs, xs2[0], [2, 2], [2, 2], [0, 0, 0, 0], out _, ceil: true), output);
    }

    /// <summary>The backward relies on ORT's MaxPool indices being flat over the whole N*C*H*W input, row-major.</summary>
    [Fact]
    public void MaxPool_indices_are_flat_over_the_whole_input()
    {
        long[] xs = [3, 4, 7, 5];
        var data = Distinct(54, xs);
        var g = new GraphBuilder("indices");
        var x = g.Input("x", DType.Float, xs);
        var (y, idx) = g.MaxPoolWithIndices(x, [3, 3], [2, 2], [1, 1, 1, 1]);
        g.Output(y, "y"); g.Output(idx, "idx");
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor> { ["x"] = HostTensor.Float(xs, data.Select(v => (float)v).ToArray()) });
        var yref = Reference.MaxPool2d(xs, data, [3, 3], [2, 2], [1, 1, 1, 1], out var ys);
        Assert.Equal(ys, outs["idx"].Shape);
        long hw = xs[2] * xs[3];
        for (int k = 0; k < yref.Length; k++)
        {
            long expected = Array.IndexOf(data, yref[k]); // distinct values: the flat position of the maximum
            Assert.Equal(expected, outs["idx"].Longs[k]);
            Assert.Equal(k / (ys[2] * ys[3]), expected / hw); // same (n, c) plane: the offset n*C*H*W + c*H*W is included
        }
        Assert.Contains(outs["idx"].Longs, i => i >= xs[1] * hw); // indices beyond the first sample occur
    }

    // ------------------------------------------------------------------ AveragePool

    [Theory]
    [InlineData("3x3-s2-p1-exclude", 3L, 3L, 2L, 2L, 1L, 1L, 1L, 1L, false, 7L, 5L)]
    [InlineData("3x3-s2-p1-include", 3L, 3L, 2L, 2L, 1L, 1L, 1L, 1L, true, 7L, 5L)]
    [InlineData("3x3-s2-asym-exclude", 3L, 3L, 2L, 2L, 1L, 0L, 0L, 1L, false, 8L, 6L)]
    [InlineData("3x3-s2-asym-include", 3L, 3L, 2L, 2L, 1L, 0L, 0L, 1L, true, 8L, 6L)]
    [InlineData("2x2-s2-nopad", 2L, 2L, 2L, 2L, 0L, 0L, 0L, 0L, false, 7L, 5L)]
    [InlineData("3x3-s1-p1-exclude", 3L, 3L, 1L, 1L, 1L, 1L, 1L, 1L, false, 5L, 7L)]
    [InlineData("2x3-s2x1-asym-exclude", 2L, 3L, 2L, 1L, 1L, 1L, 0L, 1L, false, 7L, 5L)]
    [InlineData("2x3-s2x1-asym-include", 2L, 3L, 2L, 1L, 1L, 1L, 0L, 1L, true, 7L, 5L)]
    public void AveragePool_gradient(string name, long kh, long kw, long sh, long sw, long pt, long pl, long pb, long pr, bool includePad, long h, long w)
    {
        long[] xs = [3, 4, h, w];
        long[] kernel = [kh, kw], strides = [sh, sw], pads = [pt, pl, pb, pr];
        Check($"AveragePool[{name}]", [new("x", xs, RandomData(61, xs))],
            (g, v) => g.AveragePool(v[0], kernel, strides, pads, includePad),
            xs2 => Reference.AvgPool2d(xs, xs2[0], kernel, strides, pads, includePad, out _), output);
    }

    [Theory]
    [InlineData(7L, 5L, 1L, 1L, 1L, 1L, false)]
    [InlineData(8L, 6L, 1L, 1L, 1L, 1L, false)]
    [InlineData(8L, 6L, 1L, 0L, 0L, 1L, false)]
    [InlineData(8L, 5L, 1L, 1L, 1L, 1L, true)]
    public void AveragePool_backward_ConvTranspose_has_symmetric_pads(long h, long w, long pt, long pl, long pb, long pr, bool ceil)
    {
        // ORT's CUDA EP runs a ConvTranspose with asymmetric pads on the CPU.
        var g = new GraphBuilder("sym");
        var x = g.Input("x", DType.Float, 3, 2, h, w);
        SemPPL.GraphGen.Autodiff.Differentiator.Differentiate(g, g.ReduceSum(g.AveragePool(x, [3, 3], [2, 2], [pt, pl, pb, pr], false, ceil)), [x]);
        var pads = Assert.Single(g.Nodes, n => n.OpType == "ConvTranspose").AttrInts("pads")!;
        Assert.Equal(pads[0], pads[2]);
        Assert.Equal(pads[1], pads[3]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AveragePool_ceil_mode_gradient(bool includePad)
    {
        // 8x5, 3x3 s2 p1 ceil: 5x3 windows (the last row of windows starts on the last input row and hangs past the padded input).
        long[] xs = [3, 2, 8, 5];
        Check($"AveragePool[ceil-{(includePad ? "include" : "exclude")}]", [new("x", xs, RandomData(62, xs))],
            (g, v) => g.AveragePool(v[0], [3, 3], [2, 2], [1, 1, 1, 1], includePad, ceil: true),
            xs2 => Reference.AvgPool2d(xs, xs2[0], [3, 3], [2, 2], [1, 1, 1, 1], includePad, out _, ceil: true), output);
    }

    [Fact]
    public void GlobalAveragePool_gradient()
    {
        long[] xs = [3, 4, 7, 5];
        Check("GlobalAveragePool", [new("x", xs, RandomData(63, xs))],
            (g, v) => g.GlobalAveragePool(v[0]),
            xs2 => Reference.GlobalAvgPool(xs, xs2[0]), output);
    }
}

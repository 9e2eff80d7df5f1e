using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class SelectionRuleTests(ITestOutputHelper output)
{
    /// <summary>
    /// Tie-free data with gaps: a random permutation of 0.05 * (k - n/2) split into the requested
    /// shapes, so no two values are closer than 0.05 (finite differences never swap an argmax).
    /// </summary>
    private static double[][] Distinct(int seed, params long[][] shapes)
    {
        int total = (int)shapes.Sum(Shapes.Product);
        var values = Enumerable.Range(0, total).Select(k => 0.05 * (k - total / 2.0)).ToArray();
        new Random(seed).Shuffle(values);
        var parts = new double[shapes.Length][];
        int at = 0;
        for (int i = 0; i < shapes.Length; i++)
        {
            int len = (int)Shapes.Product(shapes[i]);
            parts[i] = values[at..(at + len)];
            at += len;
        }
        return parts;
    }

    private static Dictionary<string, HostTensor> RunGrads(GraphBuilder g, Value loss, Value[] wrt, Dictionary<string, HostTensor> feeds)
    {
        g.Output(loss, "loss");
        Differentiator.Differentiate(g, loss, wrt);
        return OrtRunner.Run(g, feeds);
    }

    private static HostTensor F(long[] shape, params double[] v) => HostTensor.Float(shape, v.Select(x => (float)x).ToArray());

    private static void AssertValues(double[] expected, HostTensor actual)
    {
        Assert.Equal(expected.Length, (int)actual.ElementCount);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual.GetDouble(i), 6);
    }

    // ------------------------------------------------------------------ Where

    [Theory]
    [InlineData(new long[] { 3, 1 }, new long[] { 3, 4 }, new long[] { 4 })]
    [InlineData(new long[] { 2, 3, 4 }, new long[] { }, new long[] { 3, 1 })]
    [InlineData(new long[] { 5 }, new long[] { 2, 5 }, new long[] { 2, 5 })]
    public void Where_gradients_of_both_branches(long[] sc, long[] sx, long[] sy)
    {
        var cond = RandomData(101, sc).Select(v => v > 0 ? 1.0 : 0.0).ToArray();
        Check("Where", [new("c", sc, cond, Differentiate: false, Type: DType.Bool), new("x", sx, RandomData(102, sx)), new("y", sy, RandomData(103, sy))],
            (g, v) => g.Where(v[0], v[1], v[2]),
            xs => Reference.Where(sc, sx, sy, xs[0], xs[1], xs[2]), output);
    }

    // ------------------------------------------------------------------ Clip

    [Theory]
    [InlineData(-0.4, 0.3)]
    [InlineData(-0.4, double.NaN)] // min only
    [InlineData(double.NaN, 0.3)]  // max only
    public void Clip_with_constant_bounds(double min, double max)
    {
        long[] s = [4, 6];
        // Keep every element at least 0.02 away from both bounds.
        var data = RandomData(111, s).Select(v =>
        {
            foreach (var b in new[] { min, max })
                if (!double.IsNaN(b) && Math.Abs(v - b) < 0.02) v = b + (v >= b ? 0.02 : -0.02);
            return v;
        }).ToArray();
        float? lo = double.IsNaN(min) ? null : (float)min, hi = double.IsNaN(max) ? null : (float)max;
        var worst = Check("Clip", [new("x", s, data)],
            (g, x) => g.Clip(x[0], lo, hi),
            xs => xs[0].Select(v => Math.Min(double.IsNaN(max) ? double.MaxValue : max, Math.Max(double.IsNaN(min) ? double.MinValue : min, v))).ToArray(),
            output);
        Assert.True(data.Any(v => v < (lo ?? -2)) || data.Any(v => v > (hi ?? 2)), "test data should exercise a clipped region");
    }

    [Fact]
    public void Clip_bound_that_needs_a_gradient_is_rejected()
    {
        var g = new GraphBuilder("clip_bound");
        var x = g.Input("x", DType.Float, 4);
        var lo = g.Input("lo", DType.Float);
        var y = g.Clip(x, lo, null);
        var ex = Assert.Throws<NotSupportedException>(() => Differentiator.Differentiate(g, g.ReduceSum(y), [x, lo]));
        Assert.Contains(y.Producer!.Name, ex.Message);
        Assert.Contains("min", ex.Message);
    }

    // ------------------------------------------------------------------ Max / Min

    [Theory]
    [InlineData("Max", new long[] { 3, 1, 5 }, new long[] { 4, 1 })]
    [InlineData("Min", new long[] { 3, 1, 5 }, new long[] { 4, 1 })]
    [InlineData("Max", new long[] { 2, 3 }, new long[] { })]
    [InlineData("Min", new long[] { 6 }, new long[] { 6 })]
    public void Max_Min_with_broadcasting(string op, long[] sa, long[] sb)
    {
        var d = Distinct(121, sa, sb);
        Check(op, [new("a", sa, d[0]), new("b", sb, d[1])],
            (g, x) => op == "Max" ? g.Max(x[0], x[1]) : g.Min(x[0], x[1]),
            xs => Reference.Broadcast2(sa, sb, xs[0], xs[1], op == "Max" ? Math.Max : Math.Min), output);
    }

    [Fact]
    public void Max_with_three_inputs()
    {
        long[] sa = [2, 4], sb = [4], sc = [2, 1];
        var d = Distinct(122, sa, sb, sc);
        Check("Max", [new("a", sa, d[0]), new("b", sb, d[1]), new("c", sc, d[2])],
            (g, x) => g.AddNode1("Max", [x[0], x[1], x[2]], DType.Float, [2, 4]),
            xs => Reference.BroadcastN([sa, sb, sc], xs, v => v.Max()), output);
    }

    [Fact]
    public void Max_ties_split_the_gradient_equally()
    {
        var g = new GraphBuilder("max_ties");
        var a = g.Input("a", DType.Float, 4);
        var b = g.Input("b", DType.Float, 4);
        var outs = RunGrads(g, g.ReduceSum(g.Max(a, b)), [a, b],
            new() { ["a"] = F([4], 1, 2, 3, -1), ["b"] = F([4], 1, 5, 0, -1) });
        AssertValues([0.5, 0, 1, 0.5], outs["grad.a"]);
        AssertValues([0.5, 1, 0, 0.5], outs["grad.b"]);
    }

    // ------------------------------------------------------------------ ReduceSumSquare

    [Theory]
    [InlineData(new long[] { 3, 4, 5 }, new long[] { 0, 2 }, true)]
    [InlineData(new long[] { 3, 4, 5 }, new long[] { 1 }, false)]
    [InlineData(new long[] { 2, 6 }, null, false)]
    public void ReduceSumSquare(long[] s, long[]? axes, bool keepDims)
    {
        Check("ReduceSumSquare", [new("x", s, RandomData(131, s, 2.0))],
            (g, x) => g.ReduceSumSquare(x[0], axes, keepDims),
            xs => Reference.ReduceSumSquare(s, xs[0], axes), output);
    }

    // ------------------------------------------------------------------ ReduceMax

    [Theory]
    [InlineData(new long[] { 3, 4, 5 }, new long[] { 1 }, false)]
    [InlineData(new long[] { 3, 4, 5 }, new long[] { 0, 2 }, true)]
    [InlineData(new long[] { 3, 4, 5 }, new long[] { -1 }, true)]
    [InlineData(new long[] { 3, 4, 5 }, null, false)]
    [InlineData(new long[] { 7 }, new long[] { 0 }, true)]
    public void ReduceMax(long[] s, long[]? axes, bool keepDims)
    {
        var d = Distinct(131, s);
        Check("ReduceMax", [new("x", s, d[0])],
            (g, x) => g.ReduceMax(x[0], axes, keepDims),
            xs => Reference.ReduceMax(s, xs[0], axes), output);
    }

    [Fact]
    public void ReduceMax_ties_split_the_gradient_by_the_tie_count()
    {
        var g = new GraphBuilder("reducemax_ties");
        var x = g.Input("x", DType.Float, 3, 4);
        var w = g.Constant(F([3], 1, 2, 3));
        var outs = RunGrads(g, g.ReduceSum(g.Mul(g.ReduceMax(x, [1]), w)), [x],
            new() { ["x"] = F([3, 4], 1, 3, 3, 2, /**/ 0, -1, 5, 4, /**/ 7, 7, 7, 7) });
        AssertValues([0, 0.5, 0.5, 0, /**/ 0, 0, 2, 0, /**/ 0.75, 0.75, 0.75, 0.75], outs["grad.x"]);
    }
}

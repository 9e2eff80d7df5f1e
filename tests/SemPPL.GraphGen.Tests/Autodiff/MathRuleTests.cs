using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class MathRuleTests(ITestOutputHelper output)
{
    /// <summary>Random values in [lo, hi).</summary>
    internal static double[] Uniform(int seed, long[] shape, double lo, double hi) =>
        RandomData(seed, shape).Select(v => lo + (v + 1) / 2 * (hi - lo)).ToArray();

    private static double[] Map(double[] x, Func<double, double> f) => x.Select(f).ToArray();

    // ------------------------------------------------------------------ Div

    [Theory]
    [InlineData(new long[] { 3, 1, 5 }, new long[] { 4, 1 })]
    [InlineData(new long[] { 2, 3 }, new long[] { })]
    [InlineData(new long[] { 5 }, new long[] { 2, 3, 5 })]
    [InlineData(new long[] { 3, 7 }, new long[] { 3, 7 })]
    public void Div_both_inputs_with_broadcasting(long[] sa, long[] sb)
    {
        Check("Div", [new("a", sa, RandomData(11, sa)), new("b", sb, RandomData(12, sb, awayFromZero: 0.5))],
            (g, x) => g.Div(x[0], x[1]),
            xs => Reference.Broadcast2(sa, sb, xs[0], xs[1], (p, q) => p / q), output);
    }

    [Fact]
    public void Div_divisor_only()
    {
        // Only b needs a gradient: its table entry -(dy / b) * y builds dy / b itself.
        long[] sa = [2, 3], sb = [3];
        Check("Div", [new("a", sa, RandomData(14, sa), Differentiate: false), new("b", sb, RandomData(15, sb, awayFromZero: 0.5))],
            (g, x) => g.Div(x[0], x[1]),
            xs => Reference.Broadcast2(sa, sb, xs[0], xs[1], (p, q) => p / q), output);
    }

    [Fact]
    public void Div_of_the_same_value_accumulates_both_gradients()
    {
        long[] s = [3, 4];
        // y = x / (x + 2) reads x through both inputs.
        Check("Div", [new("x", s, Uniform(13, s, 0.2, 2))],
            (g, x) => g.Div(x[0], g.Add(x[0], 2f)), xs => Map(xs[0], v => v / (v + 2)), output);
    }

    // ------------------------------------------------------------------ unary

    [Fact]
    public void Neg()
    {
        long[] s = [3, 5];
        Check("Neg", [new("x", s, RandomData(21, s))], (g, x) => g.Neg(x[0]), xs => Map(xs[0], v => -v), output);
    }

    [Fact]
    public void Exp()
    {
        long[] s = [2, 3, 5];
        Check("Exp", [new("x", s, RandomData(22, s, scale: 2))], (g, x) => g.Exp(x[0]), xs => Map(xs[0], Math.Exp), output);
    }

    [Fact]
    public void Log()
    {
        long[] s = [4, 7];
        Check("Log", [new("x", s, Uniform(23, s, 0.3, 3))], (g, x) => g.Log(x[0]), xs => Map(xs[0], Math.Log), output);
    }

    [Fact]
    public void Sqrt()
    {
        long[] s = [3, 1, 5];
        Check("Sqrt", [new("x", s, Uniform(24, s, 0.2, 4))], (g, x) => g.Sqrt(x[0]), xs => Map(xs[0], Math.Sqrt), output);
    }

    [Fact]
    public void Reciprocal()
    {
        long[] s = [5, 3];
        Check("Reciprocal", [new("x", s, RandomData(25, s, scale: 2, awayFromZero: 0.5))],
            (g, x) => g.Reciprocal(x[0]), xs => Map(xs[0], v => 1 / v), output);
    }

    [Fact]
    public void Sigmoid()
    {
        long[] s = [3, 7];
        Check("Sigmoid", [new("x", s, RandomData(26, s, scale: 4))], (g, x) => g.Sigmoid(x[0]), xs => Map(xs[0], Reference.Sigmoid), output);
    }

    [Fact]
    public void Tanh()
    {
        long[] s = [2, 9];
        Check("Tanh", [new("x", s, RandomData(27, s, scale: 2.5))], (g, x) => g.Tanh(x[0]), xs => Map(xs[0], Math.Tanh), output);
    }

    [Fact]
    public void Abs()
    {
        long[] s = [4, 5];
        Check("Abs", [new("x", s, RandomData(28, s, awayFromZero: 0.05))], (g, x) => g.Abs(x[0]), xs => Map(xs[0], Math.Abs), output);
    }

    [Fact]
    public void Unary_chain_reuses_forward_outputs()
    {
        long[] s = [3, 4];
        // sqrt(sigmoid(tanh(exp(x)))) exercises chained rules that read their own outputs.
        Check("Exp>Tanh>Sigmoid>Sqrt", [new("x", s, RandomData(29, s))],
            (g, x) => g.Sqrt(g.Sigmoid(g.Tanh(g.Exp(x[0])))),
            xs => Map(xs[0], v => Math.Sqrt(Reference.Sigmoid(Math.Tanh(Math.Exp(v))))), output);
    }

    // ------------------------------------------------------------------ Pow

    [Theory]
    [InlineData(3.0)]
    [InlineData(0.5)]
    [InlineData(-1.5)]
    [InlineData(2.0)] // shortcut: 2 a dy
    [InlineData(1.0)] // shortcut: dy
    public void Pow_with_a_constant_scalar_exponent(double p)
    {
        long[] s = [3, 5];
        Check("Pow", [new("x", s, Uniform(31, s, 0.3, 2.5))],
            (g, x) => g.Pow(x[0], g.Constant(HostTensor.Scalar((float)p))),
            xs => Map(xs[0], v => Math.Pow(v, p)), output);
    }

    [Fact]
    public void Pow_with_a_constant_tensor_exponent_broadcast_against_the_base()
    {
        long[] s = [3, 5];
        double[] e = [2, 0.5, -1, 3, 1.5];
        Check("Pow", [new("x", s, Uniform(32, s, 0.3, 2.5))],
            (g, x) => g.Pow(x[0], g.Constant(HostTensor.Float([5], e.Select(v => (float)v).ToArray()))),
            xs => Reference.Broadcast2(s, [5], xs[0], e, Math.Pow), output);
    }

    [Fact]
    public void Pow_with_an_exponent_larger_than_the_base_sums_back()
    {
        long[] s = [5], se = [3, 5];
        var e = Uniform(33, se, -1.5, 3);
        Check("Pow", [new("x", s, Uniform(34, s, 0.3, 2.5))],
            (g, x) => g.Pow(x[0], g.Constant(HostTensor.Float(se, e.Select(v => (float)v).ToArray()))),
            xs => Reference.Broadcast2(s, se, xs[0], e, Math.Pow), output);
    }

    [Fact]
    public void Pow_with_an_int64_constant_exponent()
    {
        long[] s = [4, 3];
        Check("Pow", [new("x", s, RandomData(35, s, scale: 1.5))],
            (g, x) => g.Pow(x[0], g.Constant(HostTensor.Int64([], [3]))),
            xs => Map(xs[0], v => v * v * v), output);
    }

    [Fact]
    public void Pow_with_a_computed_exponent_that_is_not_differentiated()
    {
        long[] s = [3, 4], se = [4];
        var e = Uniform(36, se, -1, 2.5);
        Check("Pow", [new("x", s, Uniform(37, s, 0.3, 2.5)), new("e", se, e, Differentiate: false)],
            (g, x) => g.Pow(x[0], x[1]),
            xs => Reference.Broadcast2(s, se, xs[0], xs[1], Math.Pow), output);
    }

    [Fact]
    public void Pow_exponent_that_needs_a_gradient_is_rejected_naming_the_node()
    {
        var g = new GraphBuilder("pow_exponent");
        var x = g.Input("x", DType.Float, 3);
        var e = g.Input("e", DType.Float, 3);
        var y = g.Pow(x, e);
        var loss = g.ReduceSum(y);
        var ex = Assert.Throws<NotSupportedException>(() => Differentiator.Differentiate(g, loss, [x, e]));
        Assert.Contains(y.Producer!.Name, ex.Message);
        Assert.Contains("exponent", ex.Message);
        output.WriteLine(ex.Message);
    }

    // ------------------------------------------------------------------ Cast, Sum

    [Fact]
    public void Cast_float_to_double_and_back_casts_the_gradient_back()
    {
        long[] s = [3, 5], sw = [5];
        // y = float(exp(double(x)) * double(w)): both casts' rules run, the middle in double.
        Check("Cast", [new("x", s, RandomData(41, s)), new("w", sw, RandomData(42, sw))],
            (g, x) =>
            {
                var xd = g.Cast(x[0], DType.Double);
                Assert.Equal(DType.Double, xd.Type);
                return g.Cast(g.Mul(g.Exp(xd), g.Cast(x[1], DType.Double)), DType.Float);
            },
            xs => Reference.Broadcast2(s, sw, xs[0], xs[1], (p, q) => Math.Exp(p) * q), output);
    }

    [Fact]
    public void Sum_variadic_with_broadcasting()
    {
        long[] sa = [2, 3, 4], sb = [3, 1], sc = [4];
        Check("Sum", [new("a", sa, RandomData(43, sa)), new("b", sb, RandomData(44, sb)), new("c", sc, RandomData(45, sc))],
            (g, x) => g.Sum(x),
            xs => Reference.BroadcastN([sa, sb, sc], xs, v => v[0] + v[1] + v[2]), output);
    }

    [Fact]
    public void Sum_with_a_repeated_input()
    {
        long[] s = [3, 4], sy = [4];
        Check("Sum", [new("x", s, RandomData(46, s)), new("y", sy, RandomData(47, sy))],
            (g, x) => g.Sum([x[0], g.Mul(x[1], x[1]), x[0]]),
            xs => Reference.Broadcast2(s, sy, xs[0], xs[1], (p, q) => 2 * p + q * q), output);
    }

    // ------------------------------------------------------------------ double graphs

    [Fact]
    public void Rules_build_runnable_double_graphs_that_agree_with_float()
    {
        // Every rule of this family in one graph, built in float and in double: ORT must have
        // kernels for all backward ops in both types, and the gradients must agree.
        static Dictionary<string, HostTensor> Run(DType t, double[] xv, double[] wv)
        {
            var g = new GraphBuilder($"all_{t}");
            var x = g.Input("x", t, 3, 4);
            var w = g.Input("w", t, 4, 5);
            var a = g.Tanh(g.MatMul(x, w));                                          // [3,5]
            var b = g.Sigmoid(g.Gemm(x, w, g.ReduceMax(a, [0]), alpha: 0.5f, beta: 2f));
            var c = g.Softmax(g.Add(a, b), 1);
            var d = g.LogSoftmax(g.Sub(a, b), 0);
            var q = g.Sqrt(g.Add(g.Exp(g.Neg(g.Abs(a))), 1f));
            var r = g.Log(g.Add(g.Reciprocal(q), 1f));
            var s = g.Pow(q, g.Constant(HostTensor.Filled(t, [], 1.5)));
            var pick = g.Where(g.Greater(a, b), g.Max(c, d), g.Min(c, g.Clip(d, -2f, 0f)));
            var y = g.Cast(g.Sum([pick, r, s, g.Div(b, q)]), DType.Float);
            var loss = g.ReduceSum(g.Mul(y, g.Constant(HostTensor.Float([3, 5], RandomData(55, [3, 5]).Select(v => (float)v).ToArray()))));
            Differentiator.Differentiate(g, loss, [x, w]);
            HostTensor Feed(long[] shape, double[] v) => t == DType.Double
                ? HostTensor.Double(shape, v) : HostTensor.Float(shape, v.Select(e => (float)e).ToArray());
            return OrtRunner.Run(g, new Dictionary<string, HostTensor> { ["x"] = Feed([3, 4], xv), ["w"] = Feed([4, 5], wv) });
        }

        var xv = RandomData(53, [3, 4]); var wv = RandomData(54, [4, 5]);
        var f = Run(DType.Float, xv, wv);
        var d = Run(DType.Double, xv, wv);
        foreach (var name in new[] { "grad.x", "grad.w" })
        {
            Assert.Equal(DType.Double, d[name].Type);
            double diff = 0, norm = 0;
            for (int i = 0; i < d[name].ElementCount; i++)
            {
                double e = f[name].GetDouble(i) - d[name].GetDouble(i);
                diff += e * e; norm += d[name].GetDouble(i) * d[name].GetDouble(i);
            }
            double rel = Math.Sqrt(diff / norm);
            output.WriteLine($"{name}: float vs double relative difference {rel:E2}");
            Assert.True(rel < 1e-4, $"{name}: float and double gradients differ by {rel:E2}");
        }
    }

    // ------------------------------------------------------------------ differentiator behaviour on these ops

    [Fact]
    public void Op_without_a_rule_on_the_path_throws_naming_the_op_and_the_node()
    {
        Assert.False(GradientRegistry.Default.TryGet("Erf", out _),
            "Erf now has a gradient rule: pick another op without one for this test");
        var g = new GraphBuilder("missing_rule");
        var x = g.Input("x", DType.Float, 2, 3);
        var erf = g.AddNode1("Erf", [g.Exp(x)], DType.Float, [2, 3]);
        var loss = g.ReduceSum(g.Mul(erf, erf));
        var ex = Assert.Throws<MissingGradientRuleException>(() => Differentiator.Differentiate(g, loss, [x]));
        Assert.Equal("Erf", ex.OpType);
        Assert.Equal(erf.Producer!.Name, ex.NodeName);
        Assert.Contains("'Erf'", ex.Message);
        Assert.Contains(erf.Producer!.Name, ex.Message);
        output.WriteLine(ex.Message);
    }

    [Fact]
    public void Op_without_a_rule_off_the_path_is_fine()
    {
        // Erf on a branch that does not reach the loss, and on a value that does not depend on x.
        long[] s = [2, 3];
        Check("Erf off the path", [new("x", s, RandomData(51, s)), new("w", s, RandomData(52, s), Differentiate: false)],
            (g, x) =>
            {
                g.Output(g.AddNode1("Erf", [x[0]], DType.Float, s), "side");
                var erfW = g.AddNode1("Erf", [x[1]], DType.Float, s);
                return g.Mul(g.Exp(x[0]), erfW);
            },
            xs => Reference.Broadcast2(s, s, xs[0], xs[1], (p, q) => Math.Exp(p) * Erf(q)), output);
    }

    [Fact]
    public void Branch_not_reaching_the_loss_builds_no_backward_nodes()
    {
        static (int Forward, int Backward, GraphBuilder G, Value[] Side) Build(bool withBranch)
        {
            var g = new GraphBuilder("dead_branch");
            var x = g.Input("x", DType.Float, 3, 4);
            var w = g.Input("w", DType.Float, 4, 5);
            var side = new List<Value>();
            if (withBranch)
            {
                // Depends on x and w, never reaches the loss.
                var d = g.Sigmoid(g.MatMul(g.Log(g.Abs(x)), w));
                side.Add(d);
                side.Add(g.Output(g.Softmax(g.Div(d, g.Sqrt(g.Exp(d)))), "side"));
            }
            var loss = g.ReduceSum(g.Tanh(g.MatMul(g.Exp(x), w)));
            int forward = g.Nodes.Count;
            Differentiator.Differentiate(g, loss, [x, w]);
            return (forward, g.Nodes.Count - forward, g, side.ToArray());
        }

        var plain = Build(false);
        var branched = Build(true);
        Assert.True(branched.Forward > plain.Forward);
        Assert.Equal(plain.Backward, branched.Backward);
        foreach (var n in branched.G.Nodes.Skip(branched.Forward))
            Assert.DoesNotContain(n.Inputs, v => v is not null && branched.Side.Contains(v));
        output.WriteLine($"backward nodes: {plain.Backward} without the branch, {branched.Backward} with it");
    }

    [Fact]
    public void Values_not_depending_on_the_differentiated_inputs_get_no_backward()
    {
        var g = new GraphBuilder("constant_branch");
        var x = g.Input("x", DType.Float, 3, 4);
        var w = g.Input("w", DType.Float, 3, 4);
        // Log(w) reaches the loss but does not depend on x: its rule (which would read w) must not run.
        var loss = g.ReduceSum(g.Mul(g.Exp(x), g.Log(w)));
        int forward = g.Nodes.Count;
        Differentiator.Differentiate(g, loss, [x]);
        foreach (var n in g.Nodes.Skip(forward))
            Assert.DoesNotContain(w, n.Inputs);
    }

    [Fact]
    public void StopGradient_blocks_the_gradient()
    {
        var g = new GraphBuilder("stop_gradient");
        var x = g.Input("x", DType.Float, 2, 5);
        var z = g.Input("z", DType.Float, 2, 5);
        // d/dx sum(x * sg(x)) = sg(x) = x (not 2x); d/dz sum(exp(sg(z))) = 0.
        var ez = g.Exp(g.StopGradient(z));
        var loss = g.Add(g.ReduceSum(g.Mul(x, g.StopGradient(x))), g.ReduceSum(ez));
        g.Output(loss, "loss");
        int forward = g.Nodes.Count;
        var grads = Differentiator.Differentiate(g, loss, [x, z]);
        // The Exp rule (which reads ez) never runs: nothing behind the stop reaches z.
        Assert.DoesNotContain(g.Nodes.Skip(forward), n => n.Inputs.Contains(ez) || n.Inputs.Contains(z));
        var xv = RandomData(61, [2, 5]); var zv = RandomData(62, [2, 5]);
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor>
        {
            ["x"] = HostTensor.Float([2, 5], xv.Select(v => (float)v).ToArray()),
            ["z"] = HostTensor.Float([2, 5], zv.Select(v => (float)v).ToArray()),
        });
        var gx = outs["grad.x"]; var gz = outs["grad.z"];
        for (int i = 0; i < xv.Length; i++)
        {
            Assert.Equal(xv[i], gx.GetDouble(i), 5);
            Assert.Equal(0.0, gz.GetDouble(i));
        }
        Assert.Equal("grad.z", grads[z].Name);
    }

    // Abramowitz-Stegun 7.1.26 is too coarse for a forward check at 1e-3 relative; use a series/continued expansion.
    private static double Erf(double v)
    {
        // Maclaurin series, exact to double precision for |v| <= 1.
        double sum = 0, term = v;
        for (int n = 0; n < 60; n++)
        {
            sum += term / (2 * n + 1);
            term *= -v * v / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}

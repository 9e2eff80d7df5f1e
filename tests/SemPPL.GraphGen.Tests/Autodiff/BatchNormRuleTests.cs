using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Layers;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class BatchNormRuleTests(ITestOutputHelper output)
{
    private const float Eps = 1e-5f;

    private static double[] Positive(int seed, long c) => RandomData(seed, [c]).Select(v => 0.75 + 0.5 * v).ToArray(); // [0.25, 1.25)

    // ------------------------------------------------------------------ inference mode (ONNX BatchNormalization)

    [Theory]
    [InlineData(new long[] { 3, 4, 5, 7 })]
    [InlineData(new long[] { 6, 5 })]
    [InlineData(new long[] { 3, 4, 7 })]
    public void BatchNorm_inference_gradients_for_x_scale_bias_and_statistics(long[] xs)
    {
        long c = xs[1];
        var inputs = new List<Input>
        {
            new("x", xs, RandomData(71, xs, 2.0)),
            new("scale", [c], RandomData(72, [c], 1.5)),
            new("bias", [c], RandomData(73, [c])),
            new("mean", [c], RandomData(74, [c], 0.5)),
            new("var", [c], Positive(75, c)),
        };
        Check($"BatchNormalization[rank{xs.Length}]", inputs,
            (g, v) => g.BatchNormInference(v[0], v[1], v[2], v[3], v[4], Eps),
            x => Reference.BatchNormInference(xs, x[0], x[1], x[2], x[3], x[4], Eps), output);
    }

    [Fact]
    public void BatchNorm_inference_with_fixed_statistics_differentiates_x_scale_bias_only()
    {
        long[] xs = [3, 4, 5, 7];
        var inputs = new List<Input>
        {
            new("x", xs, RandomData(81, xs, 2.0)),
            new("scale", [4], RandomData(82, [4], 1.5)),
            new("bias", [4], RandomData(83, [4])),
            new("mean", [4], RandomData(84, [4], 0.5), Differentiate: false),
            new("var", [4], Positive(85, 4), Differentiate: false),
        };
        Check("BatchNormalization[x,scale,bias]", inputs,
            (g, v) =>
            {
                var y = g.BatchNormInference(v[0], v[1], v[2], v[3], v[4], Eps);
                return g.Relu(y); // a consumer, as in a network
            },
            x => Reference.BatchNormInference(xs, x[0], x[1], x[2], x[3], x[4], Eps).Select(v => Math.Max(0, v)).ToArray(), output);
    }

    [Theory]
    [InlineData(new long[] { 3, 4, 5, 7 })]
    [InlineData(new long[] { 6, 5 })]
    public void Channel_shift_and_affine_are_exact_and_differentiable(long[] xs)
    {
        long c = xs[1];
        var inputs = new List<Input> { new("x", xs, RandomData(141, xs, 2.0)), new("a", [c], RandomData(142, [c], 1.5)), new("b", [c], RandomData(143, [c])) };
        static double[] Affine(long[] xs, double[] x, double[] a, double[] b)
        {
            long c = xs[1], inner = xs.Skip(2).Aggregate(1L, (p, q) => p * q);
            return x.Select((v, f) => v * a[f / inner % c] + b[f / inner % c]).ToArray();
        }
        Check($"ChannelShift[rank{xs.Length}]", [inputs[0], inputs[2]],
            (g, v) => BatchNorm.Shift(g, v[0], v[1]),
            x => Affine(xs, x[0], Enumerable.Repeat(1.0, (int)c).ToArray(), x[1]), output);
        Check($"ChannelAffine[rank{xs.Length}]", inputs,
            (g, v) => BatchNorm.ChannelAffine(g, v[0], v[1], v[2]),
            x => Affine(xs, x[0], x[1], x[2]), output);

        // exact: var + eps is 1f, so the node is x * a + b in float
        var g2 = new GraphBuilder("affine_exact");
        var vx = g2.Input("x", DType.Float, xs); var va = g2.Input("a", DType.Float, c); var vb = g2.Input("b", DType.Float, c);
        g2.Output(BatchNorm.ChannelAffine(g2, vx, va, vb), "y");
        float[] F(double[] d) => d.Select(v => (float)v).ToArray();
        float[] x32 = F(inputs[0].Data), a32 = F(inputs[1].Data), b32 = F(inputs[2].Data);
        var y = OrtRunner.Run(g2, new Dictionary<string, HostTensor>
        {
            ["x"] = HostTensor.Float(xs, x32), ["a"] = HostTensor.Float([c], a32), ["b"] = HostTensor.Float([c], b32),
        })["y"].Floats;
        long inner = xs.Skip(2).Aggregate(1L, (p, q) => p * q);
        for (int f = 0; f < y.Length; f++)
        {
            long ch = f / inner % c;
            float plain = x32[f] * a32[ch] + b32[ch], fused = MathF.FusedMultiplyAdd(x32[f], a32[ch], b32[ch]);
            Assert.True(y[f] == plain || y[f] == fused, $"element {f}: {y[f]:R}, x * a + b = {plain:R}");
        }
    }

    [Fact]
    public void Training_mode_BatchNormalization_node_has_no_rule()
    {
        var g = new GraphBuilder("bn_train");
        var x = g.Input("x", DType.Float, 3, 4, 5, 7);
        var p = Enumerable.Range(0, 4).Select(i => g.Input($"p{i}", DType.Float, 4)).ToArray();
        var outs = g.AddNode("BatchNormalization", [x, p[0], p[1], p[2], p[3]],
            [(DType.Float, x.Shape), (DType.Float, [4L]), (DType.Float, [4L])], new() { ["training_mode"] = Attr.Int(1) });
        var ex = Assert.Throws<NotSupportedException>(() => Differentiator.Differentiate(g, g.ReduceSum(outs[0]), [x]));
        Assert.Contains("Layers.BatchNorm.Training", ex.Message);
    }

    // ------------------------------------------------------------------ training mode (Layers.BatchNorm.Training, primitives)

    [Theory]
    [InlineData(new long[] { 3, 4, 5, 7 })]
    [InlineData(new long[] { 6, 5 })]
    [InlineData(new long[] { 24, 32 })]
    [InlineData(new long[] { 12, 8, 6, 6 })]
    public void BatchNorm_training_gradients_of_y_for_x_scale_bias(long[] xs)
    {
        long c = xs[1];
        var inputs = new List<Input>
        {
            new("x", xs, RandomData(91, xs, 2.0)),
            new("scale", [c], RandomData(92, [c], 1.5)),
            new("bias", [c], RandomData(93, [c])),
            new("rmean", [c], RandomData(94, [c]), Differentiate: false),
            new("rvar", [c], Positive(95, c), Differentiate: false),
        };
        Check($"BatchNormTraining[rank{xs.Length}]", inputs,
            (g, v) => BatchNorm.Training(g, v[0], v[1], v[2], v[3], v[4], 0.9f, Eps).Y,
            x => Reference.BatchNormTraining(xs, x[0], x[1], x[2], Eps).Y, output);
    }

    [Fact]
    public void BatchNorm_training_backward_scales_full_size_tensors_only_by_fused_affines()
    {   // per-channel products of full-size tensors go through the BatchNormalization kernel: ORT's broadcasting Mul by a
        // [1, C, 1, 1] operand runs several times slower on the CPU
        var g = new GraphBuilder("bn_train_backward");
        var x = g.Input("x", DType.Float, 8, 4, 5, 5);
        var p = Enumerable.Range(0, 4).Select(i => g.Input($"p{i}", DType.Float, 4)).ToArray();
        var y = BatchNorm.Training(g, x, p[0], p[1], p[2], p[3], 0.9f, Eps).Y;
        int before = g.Nodes.Count;
        Differentiator.Differentiate(g, g.ReduceSum(g.Mul(y, y)), [x]);
        var backward = g.Nodes.Skip(before).ToList();
        Assert.DoesNotContain(backward, n => n.OpType is "Mul" or "Add" or "Sub" && n.Inputs.Any(i => i is { Rank: 4 } && i.Shape[0] == 1 && i.Shape[1] == 4));
        Assert.Equal(2, backward.Count(n => n.OpType == "BatchNormalization"));
    }

    [Theory]
    [InlineData(new long[] { 3, 4, 5, 7 })]
    [InlineData(new long[] { 6, 5 })]
    public void BatchNorm_training_output_and_running_statistics_match_the_reference(long[] xs)
    {
        long c = xs[1];
        const float momentum = 0.9f;
        var x = RandomData(101, xs, 2.0).Select(v => v + 0.3).ToArray();
        var scale = RandomData(102, [c], 1.5); var bias = RandomData(103, [c]);
        var rmean = RandomData(104, [c]); var rvar = Positive(105, c);

        var g = new GraphBuilder("bn_train_stats");
        var vx = g.Input("x", DType.Float, xs);
        var vs = g.Input("scale", DType.Float, c); var vb = g.Input("bias", DType.Float, c);
        var vm = g.Input("rmean", DType.Float, c); var vv = g.Input("rvar", DType.Float, c);
        var r = BatchNorm.Training(g, vx, vs, vb, vm, vv, momentum, Eps);
        g.Output(r.Y, "y"); g.Output(r.NewRunningMean, "new_mean"); g.Output(r.NewRunningVar, "new_var");
        static HostTensor F(long[] s, double[] d) => HostTensor.Float(s, d.Select(v => (float)v).ToArray());
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor>
        {
            ["x"] = F(xs, x), ["scale"] = F([c], scale), ["bias"] = F([c], bias), ["rmean"] = F([c], rmean), ["rvar"] = F([c], rvar),
        });

        var reference = Reference.BatchNormTraining(xs, x, scale, bias, Eps);
        AssertClose(reference.Y, outs["y"], 1e-4, "y");
        AssertClose(rmean.Select((m, i) => momentum * m + (1 - momentum) * reference.Mean[i]).ToArray(), outs["new_mean"], 1e-5, "running mean");
        AssertClose(rvar.Select((v, i) => momentum * v + (1 - momentum) * reference.UnbiasedVar[i]).ToArray(), outs["new_var"], 1e-5, "running var (unbiased)");
        // The biased variance would be visibly different: the test tells unbiased from biased.
        var biasedUpdate = rvar.Select((v, i) => momentum * v + (1 - momentum) * reference.BiasedVar[i]).ToArray();
        Assert.True(Enumerable.Range(0, (int)c).Any(i => Math.Abs(biasedUpdate[i] - outs["new_var"].GetDouble(i)) > 1e-4),
            "running variance must use the unbiased batch variance");
    }

    private void AssertClose(double[] expected, HostTensor actual, double tol, string what)
    {
        Assert.Equal(expected.Length, (int)actual.ElementCount);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(actual.GetDouble(i) - expected[i]) / Math.Max(1, Math.Abs(expected[i])));
        output.WriteLine($"{what}: worst error {worst:E2}");
        Assert.True(worst <= tol, $"{what}: worst error {worst:E2} > {tol:E1}");
    }
}

using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Layers;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

/// <summary>
/// The alternative graph forms the CUDA work times (SemPPL.Benchmarks cuda-profile), checked on the CPU: the two-stage
/// per-channel reduction (model.channel_reduction: two_stage) against the direct one and the double reference, with
/// gradients; the batched-1x1 Conv weight gradient against the definition and today's form (the position-major
/// GatherIm2ColWide is ConvRuleTests').
/// </summary>
public sealed class AlternativeFormTests(ITestOutputHelper output)
{
    private const float Eps = 1e-5f;

    private static HostTensor F(long[] s, double[] d) => HostTensor.Float(s, d.Select(v => (float)v).ToArray());

    [Theory]
    [InlineData("ReduceSum", false)]
    [InlineData("ReduceSum", true)]
    [InlineData("ReduceMean", false)]
    [InlineData("ReduceMean", true)]
    public void Two_stage_channel_reduction_matches_the_reference_and_leaves_other_reductions_alone(string op, bool keepDims)
    {
        long[] xs = [3, 4, 5, 7];
        var g = new GraphBuilder("two_stage") { ChannelReduction = ChannelReductionForm.TwoStage };
        var x = g.Input("x", DType.Float, xs);
        Value Reduce(long[] axes) => op == "ReduceSum" ? g.ReduceSum(x, axes, keepDims) : g.ReduceMean(x, axes, keepDims);
        var perChannel = Reduce([0, 2, 3]);
        g.Output(perChannel, "per_channel");
        g.Output(Reduce([2, 3]), "spatial"); // not a per-channel reduction: stays one node
        Assert.Equal(keepDims ? [1, 4, 1, 1] : [4L], perChannel.Shape);
        var reductions = g.Nodes.Where(n => n.OpType == op).ToList();
        Assert.Equal(3, reductions.Count);
        Assert.Single(reductions, n => n.Input(0).Rank == 4); // the spatial one; the per-channel one reads [N, C, H*W] then [N, C]

        var xd = RandomData(201, xs, 2.0);
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor> { ["x"] = F(xs, xd) });
        long inner = 35;
        for (int ch = 0; ch < 4; ch++)
        {
            double s = 0;
            for (int n = 0; n < 3; n++) for (int k = 0; k < inner; k++) s += (float)xd[(n * 4 + ch) * inner + k];
            double expected = op == "ReduceSum" ? s : s / (3 * inner);
            Assert.True(Math.Abs(outs["per_channel"].GetDouble(ch) - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)),
                $"{op} channel {ch}: {outs["per_channel"].GetDouble(ch)} vs {expected}");
        }
        Assert.Equal(keepDims ? [3, 4, 1, 1] : [3L, 4], outs["spatial"].Shape);
    }

    [Theory]
    [InlineData(new long[] { 3, 4, 5, 7 })]
    [InlineData(new long[] { 12, 8, 6, 6 })]
    public void BatchNorm_training_with_two_stage_reductions_differentiates_against_the_double_reference(long[] xs)
    {
        long c = xs[1];
        var inputs = new List<Input>
        {
            new("x", xs, RandomData(211, xs, 2.0)),
            new("scale", [c], RandomData(212, [c], 1.5)),
            new("bias", [c], RandomData(213, [c])),
            new("rmean", [c], RandomData(214, [c]), Differentiate: false),
            new("rvar", [c], RandomData(215, [c]).Select(v => 0.75 + 0.5 * v).ToArray(), Differentiate: false),
        };
        Check($"BatchNormTraining[two-stage,{string.Join('x', xs)}]", inputs,
            (g, v) =>
            {
                g.ChannelReduction = ChannelReductionForm.TwoStage; // before any node: forward and backward both
                return BatchNorm.Training(g, v[0], v[1], v[2], v[3], v[4], 0.9f, Eps).Y;
            },
            x => Reference.BatchNormTraining(xs, x[0], x[1], x[2], Eps).Y, output);
    }

    [Fact]
    public void BatchNorm_training_two_stage_and_direct_give_the_same_outputs_statistics_and_gradients()
    {
        long[] xs = [6, 5, 9, 7];
        long c = xs[1];
        var feeds = new Dictionary<string, HostTensor>
        {
            ["x"] = F(xs, RandomData(221, xs, 2.0).Select(v => v + 0.7).ToArray()), ["scale"] = F([c], RandomData(222, [c], 1.5)),
            ["bias"] = F([c], RandomData(223, [c])), ["rmean"] = F([c], RandomData(224, [c])),
            ["rvar"] = F([c], RandomData(225, [c]).Select(v => 0.75 + 0.5 * v).ToArray()), ["r"] = F(xs, RandomData(226, xs)),
        };
        Dictionary<string, HostTensor> Run(ChannelReductionForm form)
        {
            var g = new GraphBuilder("bn_" + form) { ChannelReduction = form };
            var x = g.Input("x", DType.Float, xs); var scale = g.Input("scale", DType.Float, c); var bias = g.Input("bias", DType.Float, c);
            var r = BatchNorm.Training(g, x, scale, bias, g.Input("rmean", DType.Float, c), g.Input("rvar", DType.Float, c), 0.9f, Eps);
            g.Output(r.Y, "y"); g.Output(r.NewRunningMean, "new_mean"); g.Output(r.NewRunningVar, "new_var");
            Differentiator.Differentiate(g, g.ReduceSum(g.Mul(r.Y, g.Input("r", DType.Float, xs))), [x, scale, bias]);
            int perChannel = g.Nodes.Count(n => n.OpType is "ReduceSum" or "ReduceMean" && n.Input(0).Rank == 4 && n.Outputs[0].Rank > 0); // not the loss
            Assert.True(form == ChannelReductionForm.Direct ? perChannel > 0 : perChannel == 0, $"{form}: {perChannel} rank-4 reductions");
            return OrtRunner.Run(g, feeds);
        }
        var direct = Run(ChannelReductionForm.Direct);
        var twoStage = Run(ChannelReductionForm.TwoStage);
        foreach (var name in new[] { "y", "new_mean", "new_var", "grad.x", "grad.scale", "grad.bias" })
        {
            double worst = 0, scale = 0;
            for (int i = 0; i < direct[name].ElementCount; i++)
            {
                worst = Math.Max(worst, Math.Abs(direct[name].GetDouble(i) - twoStage[name].GetDouble(i)));
                scale = Math.Max(scale, Math.Abs(direct[name].GetDouble(i)));
            }
            output.WriteLine($"{name}: largest |direct - two-stage| {worst:E2} (largest |direct| {scale:E2})");
            Assert.True(worst <= 1e-5 * Math.Max(1, scale), $"{name}: direct and two-stage differ by {worst:E2}");
        }
    }

    /// <summary>The 1x1 Conv cases of ConvRuleTests (group 1, no padding).</summary>
    public static TheoryData<string> OneByOneCases() =>
        new(ConvRuleTests.Cases.Where(kv => kv.Value.G == 1 && kv.Value.W[2] == 1 && kv.Value.W[3] == 1 && kv.Value.P.All(p => p == 0)).Select(kv => kv.Key));

    [Theory]
    [MemberData(nameof(OneByOneCases))]
    public void Batched_1x1_weight_gradient_agrees_with_the_definition_and_todays_form(string name)
    {
        var c = ConvRuleTests.Cases[name];
        var g = new GraphBuilder("wgrad_forms");
        var x = g.Input("x", DType.Float, c.X);
        var y = g.Conv(x, g.Input("w", DType.Float, c.W), null, c.S, c.P, c.D, c.G);
        var dy = g.Input("dy", DType.Float, y.Shape);
        var geo = ConvGeometry.Of(y.Producer!);
        g.Output(ConvBackward.WeightGradientGather(g, x, dy, geo), "today");
        g.Output(ConvWeightGradientForms.BatchedMatMul1x1(g, x, dy, geo), "batched_1x1");
        var xd = RandomData(231, c.X); var dyd = RandomData(232, y.Shape);
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor>
        {
            ["x"] = F(c.X, xd), ["w"] = HostTensor.Float(c.W, new float[Shapes.Product(c.W)]), ["dy"] = F(y.Shape, dyd),
        });
        var expected = Reference.Conv2dWeightGrad(c.X, xd, c.W, y.Shape, dyd, c.S, c.P, c.D, c.G);
        double diff = 0, norm = 0, vsToday = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = outs["batched_1x1"].GetDouble(i) - expected[i];
            diff += d * d; norm += expected[i] * expected[i];
            vsToday = Math.Max(vsToday, Math.Abs(outs["batched_1x1"].GetDouble(i) - outs["today"].GetDouble(i)));
        }
        double rel = Math.Sqrt(diff / norm);
        output.WriteLine($"{name} batched_1x1: relative error {rel:E2}, largest difference from today's form {vsToday:E2}");
        Assert.True(rel < 1e-5, $"{name} batched_1x1: relative error {rel:E2}");
        Assert.True(vsToday < 1e-4, $"{name} batched_1x1: differs from today's form by {vsToday:E2}");
    }

    [Fact]
    public void Batched_1x1_weight_gradient_at_stride_1_matches_the_definition()
    {
        long[] xs = [3, 5, 6, 4], ws = [7, 5, 1, 1];
        var g = new GraphBuilder("wgrad_1x1");
        var x = g.Input("x", DType.Float, xs);
        var y = g.Conv(x, g.Input("w", DType.Float, ws), null, [1, 1], [0, 0, 0, 0]);
        var dy = g.Input("dy", DType.Float, y.Shape);
        g.Output(ConvWeightGradientForms.BatchedMatMul1x1(g, x, dy, ConvGeometry.Of(y.Producer!)), "dw");
        Assert.Contains(g.Nodes, n => n.OpType == "FusedMatMul" && n.Domain == "com.microsoft");
        var xd = RandomData(241, xs); var dyd = RandomData(242, y.Shape);
        var dw = OrtRunner.Run(g, new Dictionary<string, HostTensor>
        {
            ["x"] = F(xs, xd), ["w"] = HostTensor.Float(ws, new float[Shapes.Product(ws)]), ["dy"] = F(y.Shape, dyd),
        })["dw"];
        var expected = Reference.Conv2dWeightGrad(xs, xd, ws, y.Shape, dyd, [1, 1], [0, 0, 0, 0], [1, 1], 1);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(dw.GetDouble(i) - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"dw[{i}] {dw.GetDouble(i)} vs {expected[i]}");
        var ex = Assert.Throws<NotSupportedException>(() =>
        {
            var g2 = new GraphBuilder("wgrad_3x3");
            var x2 = g2.Input("x", DType.Float, xs);
            var y2 = g2.Conv(x2, g2.Input("w", DType.Float, 7, 5, 3, 3), null, [1, 1], [1, 1, 1, 1]);
            ConvWeightGradientForms.BatchedMatMul1x1(g2, x2, g2.Input("dy", DType.Float, y2.Shape), ConvGeometry.Of(y2.Producer!));
        });
        Assert.Contains("1x1", ex.Message);
    }
}

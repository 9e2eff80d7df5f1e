using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Models.ModelTestUtil;
using R = SemPPL.GraphGen.Tests.Support.ModelReference;

namespace SemPPL.GraphGen.Tests.Models;

/// <summary>Forwards run in ONNX Runtime: shapes, running-statistics chaining, numerics against a double reference.</summary>
public sealed class ResNetForwardTests(ITestOutputHelper output)
{
    private const float Momentum = 0.9f;

    /// <summary>resnet18 width 0.25 small stem on 1-channel 28x28, with the given number of views (Training) or one (Inference).</summary>
    private static (GraphBuilder G, ModelContext Ctx, Value[] Features) Resnet18Tiny(ModelMode mode, int views, string backbone = "resnet18")
    {
        var g = new GraphBuilder($"{backbone}_{mode}_{views}");
        var ctx = new ModelContext(g, "online.", mode, Momentum, 1e-5f);
        var net = BackboneRegistry.Create(ModelConfigFor(backbone, 0.25, "small"), 1);
        var feats = Enumerable.Range(0, views)
            .Select(v => g.Output(net.Forward(ctx, g.Input($"view{v}", DType.Float, 3, 1, 28, 28)), $"features{v}"))
            .ToArray();
        foreach (var name in ctx.UpdatedBufferNames)
            g.Output(ctx.UpdatedBuffers[name], "new." + name);
        return (g, ctx, feats);
    }

    [Fact]
    public void Inference_forward_runs_in_ort()
    {
        var (g, ctx, feats) = Resnet18Tiny(ModelMode.Inference, 1);
        Assert.Empty(ctx.UpdatedBuffers);
        var feeds = Feeds(ctx, seed: 3);
        feeds["view0"] = RandomImages(1, 3, 1, 28, 28);
        var outs = OrtRunner.Run(g, feeds);
        var f = outs["features0"];
        Assert.Equal(new long[] { 3, 128 }, f.Shape);
        Assert.All(f.Floats, v => Assert.True(float.IsFinite(v) && v >= 0)); // pooled ReLU outputs
        Assert.Contains(f.Floats, v => v > 0);
        // Different images give different features.
        Assert.NotEqual(f.Floats.Take(128), f.Floats.Skip(128).Take(128));
    }

    [Fact]
    public void Training_forward_updates_and_chains_running_stats_across_views()
    {
        var (g2, ctx2, _) = Resnet18Tiny(ModelMode.Training, 2);
        var (g1, ctx1, _) = Resnet18Tiny(ModelMode.Training, 1);
        // Sharing: the second view adds no parameters or buffers; graph inputs = params + buffers + views.
        Assert.Equal(ctx1.Parameters.Select(p => p.Name), ctx2.Parameters.Select(p => p.Name));
        Assert.Equal(ctx2.Parameters.Count + ctx2.Buffers.Count + 2, g2.Inputs.Count);
        Assert.Equal(ctx2.Buffers.Count, ctx2.UpdatedBuffers.Count);

        var feeds = Feeds(ctx2, seed: 5);
        RandomizeBatchNorm(ctx2, feeds, seed: 6); // non-trivial initial running stats
        var x0 = RandomImages(10, 3, 1, 28, 28);
        var x1 = RandomImages(11, 3, 1, 28, 28);

        var two = OrtRunner.Run(g2, new Dictionary<string, HostTensor>(feeds) { ["view0"] = x0, ["view1"] = x1 });
        var afterView0 = OrtRunner.Run(g1, new Dictionary<string, HostTensor>(feeds) { ["view0"] = x0 });
        var onlyView1 = OrtRunner.Run(g1, new Dictionary<string, HostTensor>(feeds) { ["view0"] = x1 });

        Assert.Equal(new long[] { 3, 128 }, two["features1"].Shape);
        double worst = 0;
        foreach (var b in ctx2.Buffers)
        {
            var updated = two["new." + b.Name];
            Assert.Equal(b.Shape, updated.Shape);
            // In training mode a forward uses batch statistics only, so view 1's batch statistic s1 is the same in both
            // graphs: onlyView1 = m*r0 + (1-m)*s1. Chaining means two = m*afterView0 + (1-m)*s1.
            var r0 = feeds[ctx2.GraphName(b.Name)].Floats;
            var a = afterView0["new." + b.Name].Floats;
            var o = onlyView1["new." + b.Name].Floats;
            var t = updated.Floats;
            for (int i = 0; i < t.Length; i++)
            {
                double expected = Momentum * a[i] + (o[i] - Momentum * r0[i]);
                worst = Math.Max(worst, Math.Abs(t[i] - expected) / (1 + Math.Abs(expected)));
            }
            // And the first update really moved the statistics (so the check above is not vacuous).
            Assert.True(a.Zip(r0, (p, q) => Math.Abs(p - q)).Max() > 1e-4, $"{b.Name} did not change");
        }
        output.WriteLine($"{ctx2.Buffers.Count} buffers; worst relative chaining error {worst:E2}");
        Assert.True(worst < 1e-4, $"chaining error {worst}");
        // Had the second view consumed the initial stats instead, it would equal onlyView1: check it does not.
        var stem = "new.encoder.bn1.running_mean";
        Assert.True(two[stem].Floats.Zip(onlyView1[stem].Floats, (p, q) => Math.Abs(p - q)).Max() > 1e-4);
    }

    // ------------------------------------------------------------------ numerical block checks

    private static R.Bn BnOf(Dictionary<string, HostTensor> feeds, string prefix) => new(
        D(feeds[prefix + ".weight"]), D(feeds[prefix + ".bias"]), D(feeds[prefix + ".running_mean"]), D(feeds[prefix + ".running_var"]));

    private static R.T ConvBn(R.T x, Dictionary<string, HostTensor> f, string conv, string bn, long stride, long pad)
    {
        var w = f[conv + ".weight"];
        var y = R.Conv(x, new R.T(D(w), w.Shape), stride, pad);
        var p = BnOf(f, bn);
        return R.BatchNorm(y, p.Gamma, p.Beta, p.Mean, p.Var, 1e-5);
    }

    private static R.T BasicRef(R.T x, Dictionary<string, HostTensor> f, string s, long stride)
    {
        var y = R.Relu(ConvBn(x, f, s + "conv1", s + "bn1", stride, 1));
        y = ConvBn(y, f, s + "conv2", s + "bn2", 1, 1);
        var sc = f.ContainsKey(s + "downsample.0.weight") ? ConvBn(x, f, s + "downsample.0", s + "downsample.1", stride, 0) : x;
        return R.Relu(R.Add(y, sc));
    }

    private static R.T BottleneckRef(R.T x, Dictionary<string, HostTensor> f, string s, long stride)
    {
        var y = R.Relu(ConvBn(x, f, s + "conv1", s + "bn1", 1, 0));
        y = R.Relu(ConvBn(y, f, s + "conv2", s + "bn2", stride, 1));
        y = ConvBn(y, f, s + "conv3", s + "bn3", 1, 0);
        var sc = f.ContainsKey(s + "downsample.0.weight") ? ConvBn(x, f, s + "downsample.0", s + "downsample.1", stride, 0) : x;
        return R.Relu(R.Add(y, sc));
    }

    [Theory]
    [InlineData(ResNetBlock.Basic, 4, 6, 2, true)]        // projection shortcut
    [InlineData(ResNetBlock.Basic, 5, 5, 1, false)]       // identity shortcut
    [InlineData(ResNetBlock.Bottleneck, 8, 3, 2, true)]   // projection shortcut, stride on the 3x3
    [InlineData(ResNetBlock.Bottleneck, 12, 3, 1, false)] // identity shortcut (12 = 4 * 3)
    public void Block_matches_double_reference(ResNetBlock kind, long inC, long planes, long stride, bool projection)
    {
        var net = new ResNet("block", kind, [1, 1, 1, 1], 1.0, "small", 3);
        var g = new GraphBuilder("block");
        var ctx = new ModelContext(g, "", ModelMode.Inference);
        var x = g.Input("x", DType.Float, 2, inC, 7, 7);
        var y = ctx.InScope("b.", () => kind == ResNetBlock.Basic ? net.BasicBlock(ctx, x, planes, stride) : net.BottleneckBlock(ctx, x, planes, stride));
        g.Output(y, "y");
        Assert.Equal(projection, ctx.Parameters.Any(p => p.Name.Contains("downsample")));

        var feeds = Feeds(ctx, seed: 9);
        RandomizeBatchNorm(ctx, feeds, seed: 10);
        feeds["x"] = RandomImages(12, 2, inC, 7, 7);
        var got = OrtRunner.Run(g, feeds)["y"];
        var want = kind == ResNetBlock.Basic ? BasicRef(RefOf(feeds["x"]), feeds, "b.", stride) : BottleneckRef(RefOf(feeds["x"]), feeds, "b.", stride);
        Assert.Equal(want.S, got.Shape);
        double err = MaxAbsDiff(got.Floats, want.D);
        output.WriteLine($"{kind} stride {stride}: output {Shapes.Str(got.Shape)}, max |err| {err:E2}, max |y| {want.D.Max(Math.Abs):F3}");
        Assert.True(err < 1e-4, $"max abs error {err}");
        Assert.Contains(want.D, v => v > 0.1); // not all clamped by ReLU
    }

    // ------------------------------------------------------------------ selective kernels

    private static R.T SkRef(R.T x, Dictionary<string, HostTensor> f, string s, long filters, long stride)
    {
        var y = R.Relu(ConvBn(x, f, s + "conv2", s + "bn2", stride, 1));
        var b0 = R.Channels(y, 0, filters);
        var b1 = R.Channels(y, filters, filters);
        var pooled = R.SpatialMean(R.Add(b0, b1));                 // [N, F]
        var w1 = f[s + "sk.fc1.weight"];
        var z = R.Linear(pooled, D(w1), w1.Shape[0], null);
        var bn = BnOf(f, s + "sk.bn");
        z = R.Relu(R.BatchNorm(z, bn.Gamma, bn.Beta, bn.Mean, bn.Var, 1e-5));
        var m = R.Linear(z, D(f[s + "sk.fc2.weight"]), 2 * filters, null); // [N, 2F]
        var o = new double[b0.D.Length];
        long hw = b0.H * b0.W;
        for (long n = 0; n < x.N; n++)
            for (long c = 0; c < filters; c++)
            {
                double l0 = m.D[n * 2 * filters + c], l1 = m.D[n * 2 * filters + filters + c];
                double mx = Math.Max(l0, l1), e0 = Math.Exp(l0 - mx), e1 = Math.Exp(l1 - mx);
                double a0 = e0 / (e0 + e1), a1 = e1 / (e0 + e1);
                for (long p = 0; p < hw; p++)
                {
                    long i = (n * filters + c) * hw + p;
                    o[i] = a0 * b0.D[i] + a1 * b1.D[i];
                }
            }
        return new R.T(o, b0.S);
    }

    [Fact]
    public void SK_conv_matches_double_reference()
    {
        var g = new GraphBuilder("sk");
        var ctx = new ModelContext(g, "", ModelMode.Inference);
        long filters = 6, stride = 2;
        var x = g.Input("x", DType.Float, 3, 4, 8, 8);
        var y = ctx.InScope("b.", () => ResNet.SkConv(ctx, x, filters, stride, 0.0625, "conv2", "bn2"));
        g.Output(y, "y");
        Assert.Equal(new long[] { 3, filters, 4, 4 }, y.Shape);
        var byName = ctx.Parameters.ToDictionary(p => p.Name);
        Assert.Equal(new long[] { 2 * filters, 4, 3, 3 }, byName["b.conv2.weight"].Shape);
        Assert.Equal(new long[] { 32, filters, 1, 1 }, byName["b.sk.fc1.weight"].Shape); // max(6 * 0.0625, 32)
        Assert.Equal(new long[] { 2 * filters, 32, 1, 1 }, byName["b.sk.fc2.weight"].Shape);

        var feeds = Feeds(ctx, seed: 21);
        RandomizeBatchNorm(ctx, feeds, seed: 22);
        feeds["x"] = RandomImages(23, 3, 4, 8, 8);
        var got = OrtRunner.Run(g, feeds)["y"];
        var want = SkRef(RefOf(feeds["x"]), feeds, "b.", filters, stride);
        double err = MaxAbsDiff(got.Floats, want.D);
        output.WriteLine($"SK conv: max |err| {err:E2}");
        Assert.True(err < 1e-4, $"max abs error {err}");
    }

    [Fact]
    public void SK_resnet_forward_runs_in_both_modes()
    {
        var (gi, ci, fi) = Resnet18Tiny(ModelMode.Inference, 1, "sk_resnet50");
        var (gt, ct, ft) = Resnet18Tiny(ModelMode.Training, 1, "sk_resnet50");
        Assert.Equal(new long[] { 3, 512 }, fi[0].Shape); // 2048 * 0.25
        var feedsI = Feeds(ci, 1);
        feedsI["view0"] = RandomImages(2, 3, 1, 28, 28);
        var outI = OrtRunner.Run(gi, feedsI);
        Assert.Equal(new long[] { 3, 512 }, outI["features0"].Shape);
        Assert.All(outI["features0"].Floats, v => Assert.True(float.IsFinite(v)));

        var feedsT = Feeds(ct, 1);
        feedsT["view0"] = feedsI["view0"];
        var outT = OrtRunner.Run(gt, feedsT);
        Assert.Equal(new long[] { 3, 512 }, outT["features0"].Shape);
        Assert.All(outT["features0"].Floats, v => Assert.True(float.IsFinite(v)));
        // The SK attention BN (on [B, mid, 1, 1]) updates its running stats too.
        var sk = "new.encoder.layer1.0.sk.bn.running_var";
        Assert.Equal(new long[] { 32 }, outT[sk].Shape);
        Assert.Contains(outT[sk].Floats, v => Math.Abs(v - 1f) > 1e-6);
        output.WriteLine($"sk_resnet50 w0.25: {ParameterCounts.Of(ct.Parameters)}");
    }
}

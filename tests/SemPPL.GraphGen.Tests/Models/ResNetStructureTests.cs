using System.Diagnostics;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Models.ModelTestUtil;

namespace SemPPL.GraphGen.Tests.Models;

/// <summary>Parameter counts and names of the symbolic ResNets (no ORT run), the registry, the heads.</summary>
public sealed class ResNetStructureTests(ITestOutputHelper output)
{
    private static (ModelContext Ctx, Value Features, IBackbone Backbone, TimeSpan Elapsed) Build(
        string name, double width = 1.0, string stem = "imagenet", long channels = 3, long batch = 2, long side = 224,
        ModelMode mode = ModelMode.Inference, bool zeroInit = false)
    {
        var sw = Stopwatch.StartNew();
        var g = new GraphBuilder(name);
        var backbone = BackboneRegistry.Create(ModelConfigFor(name, width, stem, zeroInit), channels);
        var ctx = new ModelContext(g, "online.", mode);
        var images = g.Input("images", DType.Float, batch, channels, side, side);
        var f = backbone.Forward(ctx, images);
        sw.Stop();
        return (ctx, f, backbone, sw.Elapsed);
    }

    /// <summary>
    /// Independent count of a torchvision ResNet without fc, from the architecture description:
    /// stem conv + BN, then per block conv/BN weights and a 1x1 conv + BN projection where shape changes.
    /// With sk, the 3x3 conv (Bottleneck conv2 / Basic conv1) has 2x outputs and its BN 2x channels, plus the SK
    /// attention: 1x1 conv p -> mid, BN(mid), 1x1 conv mid -> 2p, mid = max(floor(p / 16), 32).
    /// </summary>
    private static long FormulaCount(bool bottleneck, int[] layers, long inChannels, int stemKernel, bool sk = false)
    {
        long n = inChannels * 64 * stemKernel * stemKernel + 2 * 64;
        long inplanes = 64;
        for (int s = 0; s < 4; s++)
        {
            long p = 64L << s;
            long mid = Math.Max(p / 16, 32);
            long skExtra = sk ? p * 2 * p * 9 + 2 * 2 * p - (p * p * 9 + 2 * p) + p * mid + 2 * mid + mid * 2 * p : 0;
            for (int b = 0; b < layers[s]; b++)
            {
                long outp = bottleneck ? 4 * p : p;
                if (bottleneck) n += inplanes * p + 2 * p + p * p * 9 + 2 * p + p * 4 * p + 2 * 4 * p;
                else n += inplanes * p * 9 + 2 * p + p * p * 9 + 2 * p;
                if (sk)
                {
                    // Basic: the SK conv replaces conv1 (input inplanes, not p).
                    n += bottleneck ? skExtra
                        : inplanes * 2 * p * 9 + 2 * 2 * p - (inplanes * p * 9 + 2 * p) + p * mid + 2 * mid + mid * 2 * p;
                }
                bool stride2 = s > 0 && b == 0;
                if (stride2 || inplanes != outp) n += inplanes * outp + 2 * outp;
                inplanes = outp;
            }
        }
        return n;
    }

    [Theory]
    [InlineData("resnet18", 11_176_512L, false, new[] { 2, 2, 2, 2 })]
    [InlineData("resnet34", 21_284_672L, false, new[] { 3, 4, 6, 3 })]
    [InlineData("resnet50", 23_508_032L, true, new[] { 3, 4, 6, 3 })]
    [InlineData("resnet101", 42_500_160L, true, new[] { 3, 4, 23, 3 })]
    public void Parameter_counts_equal_torchvision_without_fc(string name, long torchvision, bool bottleneck, int[] layers)
    {
        var (ctx, f, backbone, elapsed) = Build(name);
        long count = ParameterCounts.Of(ctx.Parameters).Encoder;
        output.WriteLine($"{name}: {count:N0} parameters, {ctx.Parameters.Count} tensors, {ctx.Buffers.Count} buffers, " +
                         $"{ctx.Graph.Nodes.Count} nodes, built in {elapsed.TotalMilliseconds:F0} ms");
        // torchvision totals (resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032; resnet101 44,549,160)
        // minus the fc (512*1000+1000 or 2048*1000+1000), and the same from an independent formula.
        Assert.Equal(torchvision, count);
        Assert.Equal(FormulaCount(bottleneck, layers, 3, 7), count);
        Assert.Equal(ParameterCounts.Of(ctx.Parameters).Total, count);
        Assert.Equal(bottleneck ? 2048 : 512, backbone.FeatureDim);
        Assert.Equal(new long[] { 2, backbone.FeatureDim }, f.Shape);
        // One BN = 2 parameters + 2 buffers.
        Assert.Equal(ctx.Parameters.Count(p => p.Kind == ParameterKind.BnScale) * 2, ctx.Buffers.Count);
    }

    [Fact]
    public void ResNet50_builds_quickly_with_torchvision_names()
    {
        var (ctx, _, _, elapsed) = Build("resnet50");
        output.WriteLine($"resnet50 symbolic build: {elapsed.TotalMilliseconds:F0} ms, {ctx.Graph.Nodes.Count} nodes");
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"building resnet50 took {elapsed}");
        var names = ctx.Parameters.Select(p => p.Name).ToHashSet();
        foreach (var n in new[] { "encoder.conv1.weight", "encoder.bn1.weight", "encoder.bn1.bias",
                     "encoder.layer1.0.conv1.weight", "encoder.layer1.0.conv3.weight", "encoder.layer1.0.downsample.0.weight",
                     "encoder.layer1.0.downsample.1.weight", "encoder.layer4.2.bn3.bias", "encoder.layer3.5.conv2.weight" })
            Assert.Contains(n, names);
        Assert.DoesNotContain("encoder.layer1.1.downsample.0.weight", names);
        Assert.Contains("encoder.layer2.0.bn1.running_mean", ctx.Buffers.Select(b => b.Name));
        // Graph inputs carry the prefix; the stride sits on the 3x3 conv (torchvision v1.5).
        Assert.Contains(ctx.Graph.Inputs, v => v.Name == "online.encoder.layer1.0.conv1.weight");
        var conv2 = ctx.Graph.Nodes.Single(n => n.OpType == "Conv" && n.Inputs[1]!.Name == "online.encoder.layer2.0.conv2.weight");
        Assert.Equal(new long[] { 2, 2 }, conv2.AttrInts("strides"));
        var conv1 = ctx.Graph.Nodes.Single(n => n.OpType == "Conv" && n.Inputs[1]!.Name == "online.encoder.layer2.0.conv1.weight");
        Assert.Equal(new long[] { 1, 1 }, conv1.AttrInts("strides"));
        Assert.Equal(new long[] { 64, 3, 7, 7 }, ctx.Parameters.Single(p => p.Name == "encoder.conv1.weight").Shape);
        // Deterministic ordering: a second build lists the same parameters in the same order.
        var again = Build("resnet50").Ctx.Parameters.Select(p => p.Name);
        Assert.Equal(ctx.Parameters.Select(p => p.Name), again);
    }

    [Theory]
    [InlineData("sk_resnet50", true, new[] { 3, 4, 6, 3 })]
    [InlineData("sk_resnet18", false, new[] { 2, 2, 2, 2 })]
    public void SK_parameter_counts_match_formula(string name, bool bottleneck, int[] layers)
    {
        var (ctx, f, backbone, elapsed) = Build(name);
        long count = ParameterCounts.Of(ctx.Parameters).Encoder;
        long plain = FormulaCount(bottleneck, layers, 3, 7);
        output.WriteLine($"{name}: {count:N0} parameters (plain {plain:N0}), built in {elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(FormulaCount(bottleneck, layers, 3, 7, sk: true), count);
        Assert.True(count > plain);
        Assert.Equal(new long[] { 2, backbone.FeatureDim }, f.Shape);
        Assert.Equal(bottleneck ? 16 : 8, ctx.Parameters.Count(p => p.Name.EndsWith(".sk.fc1.weight")));
    }

    [Fact]
    public void Width_stem_and_channels_are_honoured()
    {
        var (ctx, f, backbone, _) = Build("resnet18", width: 0.25, stem: "small", channels: 1, batch: 3, side: 28);
        Assert.Equal(128, backbone.FeatureDim);
        Assert.Equal(new long[] { 3, 128 }, f.Shape);
        Assert.Equal(new long[] { 16, 1, 3, 3 }, ctx.Parameters[0].Shape);
        Assert.DoesNotContain(ctx.Graph.Nodes, n => n.OpType == "MaxPool");
        Assert.Equal(FormulaCountScaled(16, 1), ParameterCounts.Of(ctx.Parameters).Encoder);

        var wide = Build("resnet50", width: 2, batch: 1, side: 64);
        Assert.Equal(4096, wide.Backbone.FeatureDim);
        Assert.Equal(new long[] { 128, 3, 7, 7 }, wide.Ctx.Parameters[0].Shape);
        Assert.Single(wide.Ctx.Graph.Nodes, n => n.OpType == "MaxPool");

        // Tiny fractional width never produces zero channels.
        var tiny = Build("resnet18", width: 0.001, stem: "small", channels: 5, batch: 1, side: 8);
        Assert.All(tiny.Ctx.Parameters, p => Assert.All(p.Shape, d => Assert.True(d >= 1)));
        Assert.Equal(new long[] { 1, 5, 3, 3 }, tiny.Ctx.Parameters[0].Shape);
    }

    // ResNet-18 with base width b (stem 3x3, c input channels): the same formula, scaled channels.
    private static long FormulaCountScaled(long b, long c)
    {
        long n = c * b * 9 + 2 * b, inplanes = b;
        for (int s = 0; s < 4; s++)
        {
            long p = b << s;
            for (int k = 0; k < 2; k++)
            {
                n += inplanes * p * 9 + 2 * p + p * p * 9 + 2 * p;
                if (inplanes != p) n += inplanes * p + 2 * p;
                inplanes = p;
            }
        }
        return n;
    }

    [Theory]
    [InlineData("resnet51")]
    [InlineData("")]
    [InlineData("vit_b16")]
    public void Unknown_backbone_lists_known_names(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => BackboneRegistry.Create(ModelConfigFor(name), 3));
        output.WriteLine(e.Message);
        Assert.Contains($"'{name}'", e.Message);
        foreach (var known in new[] { "resnet18", "resnet50", "resnet200", "sk_resnet50", "sk_resnet152" })
            Assert.Contains(known, e.Message);
        Assert.Equal(11, BackboneRegistry.Names.Count);
    }

    [Fact]
    public void Unknown_stem_and_bad_width_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => BackboneRegistry.Create(ModelConfigFor("resnet18", stem: "tiny"), 3));
        Assert.Contains("imagenet", e.Message);
        Assert.Contains("small", e.Message);
        Assert.Throws<ArgumentException>(() => BackboneRegistry.Create(ModelConfigFor("resnet18", width: 0), 3));
        var x = new GraphBuilder("bad").Input("x", DType.Float, 1, 3, 8, 8);
        Assert.Throws<ShapeException>(() => BackboneRegistry.Create(ModelConfigFor("resnet18", stem: "small"), 1)
            .Forward(new ModelContext(x.Graph, "", ModelMode.Inference), x));
    }

    [Fact]
    public void ResNet200_builds_with_expected_block_count()
    {
        var (ctx, _, backbone, elapsed) = Build("resnet200", batch: 1, side: 64);
        output.WriteLine($"resnet200: {ParameterCounts.Of(ctx.Parameters).Encoder:N0} parameters, built in {elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(3 + 24 + 36 + 3, ctx.Parameters.Count(p => p.Name.EndsWith(".conv3.weight")));
        Assert.Equal(FormulaCount(true, [3, 24, 36, 3], 3, 7), ParameterCounts.Of(ctx.Parameters).Encoder);
        Assert.Equal(2048, backbone.FeatureDim);
    }

    [Fact]
    public void Heads_names_shapes_and_counts()
    {
        var g = new GraphBuilder("heads");
        var ctx = new ModelContext(g, "online.", ModelMode.Training);
        var backbone = BackboneRegistry.Create(ModelConfigFor("resnet18", 0.25, "small"), 1);
        var f = backbone.Forward(ctx, g.Input("images", DType.Float, 4, 1, 16, 16));
        var z = Mlp.Forward(ctx, f, 64, 16, "projector");
        var p = Mlp.Forward(ctx, z, 32, 16, "predictor");
        var logits = LinearClassifier.Forward(ctx, g.StopGradient(f), 10, "classifier");
        Assert.Equal(new long[] { 4, 16 }, z.Shape);
        Assert.Equal(new long[] { 4, 16 }, p.Shape);
        Assert.Equal(new long[] { 4, 10 }, logits.Shape);
        var counts = ParameterCounts.Of(ctx.Parameters);
        output.WriteLine(counts.ToString());
        Assert.Equal(FormulaCountScaled(16, 1), counts.Encoder);
        Assert.Equal(128 * 64 + 64 + 2 * 64 + 64 * 16, counts.Projector);
        Assert.Equal(16 * 32 + 32 + 2 * 32 + 32 * 16, counts.Predictor);
        Assert.Equal(128 * 10 + 10, counts.Classifier);
        Assert.Equal(0, counts.Other);
        var byName = ctx.Parameters.ToDictionary(s => s.Name);
        Assert.Equal(new long[] { 64, 128 }, byName["projector.fc1.weight"].Shape);
        Assert.Equal(128, byName["projector.fc1.bias"].FanIn);
        Assert.False(byName.ContainsKey("projector.fc2.bias"));
        Assert.Equal(ParameterKind.BnScale, byName["predictor.bn.weight"].Kind);
        Assert.Equal(new long[] { 10, 128 }, byName["classifier.weight"].Shape);
        Assert.True(byName["classifier.bias"].ExcludedFromWeightDecay);
        Assert.True(byName["projector.bn.bias"].ExcludedFromLars);
        Assert.False(byName["encoder.conv1.weight"].ExcludedFromWeightDecay);
        Assert.False(byName["classifier.weight"].ExcludedFromLars);
        Assert.Contains("projector.bn.running_var", ctx.UpdatedBuffers.Keys);
    }
}

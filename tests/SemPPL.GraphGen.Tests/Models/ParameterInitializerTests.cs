using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Models.ModelTestUtil;

namespace SemPPL.GraphGen.Tests.Models;

public sealed class ParameterInitializerTests(ITestOutputHelper output)
{
    private static ModelContext Specs(string backbone, bool zeroInit, string prefix = "online.")
    {
        var g = new GraphBuilder(backbone);
        var ctx = new ModelContext(g, prefix, ModelMode.Training);
        var net = BackboneRegistry.Create(ModelConfigFor(backbone, 0.25, "small", zeroInit), 3);
        var f = net.Forward(ctx, g.Input("x", DType.Float, 2, 3, 16, 16));
        Mlp.Forward(ctx, f, 32, 8, "projector");
        LinearClassifier.Forward(ctx, f, 10, "classifier");
        return ctx;
    }

    [Fact]
    public void Same_seed_same_values_different_seed_different()
    {
        var specs = Specs("resnet18", false).Parameters;
        var a = ParameterInitializer.Initialize(specs, 42);
        var b = ParameterInitializer.Initialize(specs, 42);
        var c = ParameterInitializer.Initialize(specs, 43);
        Assert.Equal(specs.Count, a.Length);
        for (int i = 0; i < specs.Count; i++)
        {
            Assert.Equal(specs[i].ElementCount, a[i].Length);
            Assert.Equal(a[i], b[i]);
            bool random = specs[i].Kind is ParameterKind.ConvWeight or ParameterKind.LinearWeight or ParameterKind.Bias;
            if (random) Assert.NotEqual(a[i], c[i]);
            else Assert.Equal(a[i], c[i]); // BN constants do not depend on the seed
        }
        // Two parameters of the same shape get different values (the name enters the stream).
        int i1 = specs.ToList().FindIndex(p => p.Name == "encoder.layer1.0.conv1.weight");
        int i2 = specs.ToList().FindIndex(p => p.Name == "encoder.layer1.0.conv2.weight");
        Assert.Equal(specs[i1].Shape, specs[i2].Shape);
        Assert.NotEqual(a[i1], a[i2]);
    }

    [Fact]
    public void Values_depend_only_on_seed_and_name()
    {
        var online = Specs("resnet18", false, "online.").Parameters;
        var target = Specs("resnet18", false, "target.").Parameters;
        var reversed = online.Reverse().ToList();
        var a = ParameterInitializer.Initialize(online, 7);
        var t = ParameterInitializer.Initialize(target, 7);
        var r = ParameterInitializer.Initialize(reversed, 7);
        for (int i = 0; i < online.Count; i++)
        {
            Assert.Equal(a[i], t[i]);                     // online and target start equal
            Assert.Equal(a[i], r[online.Count - 1 - i]);  // order does not matter
        }
        // Adding a parameter changes none of the others.
        var extended = online.Append(new ParameterSpec("extra.weight", [4, 4], ParameterKind.LinearWeight)).ToList();
        var e = ParameterInitializer.Initialize(extended, 7);
        for (int i = 0; i < online.Count; i++) Assert.Equal(a[i], e[i]);
    }

    [Fact]
    public void He_normal_fan_out_and_linear_uniform_bounds()
    {
        var conv = new ParameterSpec("encoder.big.weight", [256, 128, 3, 3], ParameterKind.ConvWeight);
        var w = ParameterInitializer.Initialize(conv, 1);
        double mean = w.Average(v => (double)v);
        double std = Math.Sqrt(w.Average(v => (v - mean) * (v - mean)));
        double target = Math.Sqrt(2.0 / (256 * 3 * 3));
        output.WriteLine($"conv [256,128,3,3]: std {std:F6} vs He fan-out {target:F6} (fan-in would be {Math.Sqrt(2.0 / (128 * 9)):F6}); mean {mean:E2}");
        Assert.InRange(std, 0.9 * target, 1.1 * target);
        Assert.InRange(Math.Abs(mean), 0, 0.05 * target);
        // Roughly normal: ~68% within one std.
        double within = w.Count(v => Math.Abs(v - mean) < std) / (double)w.Length;
        Assert.InRange(within, 0.66, 0.70);

        var lin = new ParameterSpec("projector.fc1.weight", [300, 400], ParameterKind.LinearWeight);
        var l = ParameterInitializer.Initialize(lin, 1);
        double bound = 1 / Math.Sqrt(400);
        Assert.All(l, v => Assert.InRange(v, -bound, bound));
        Assert.True(l.Max() > 0.98 * bound && l.Min() < -0.98 * bound);
        double lstd = Math.Sqrt(l.Average(v => (double)v * v));
        Assert.InRange(lstd, 0.95 * bound / Math.Sqrt(3), 1.05 * bound / Math.Sqrt(3)); // uniform std = bound / sqrt 3

        var bias = new ParameterSpec("projector.fc1.bias", [300], ParameterKind.Bias) { FanIn = 400 };
        var bv = ParameterInitializer.Initialize(bias, 1);
        Assert.All(bv, v => Assert.InRange(v, -bound, bound));
        Assert.Contains(bv, v => Math.Abs(v) > bound / 2);

        Assert.All(ParameterInitializer.Initialize(new ParameterSpec("bn.weight", [5], ParameterKind.BnScale), 1), v => Assert.Equal(1f, v));
        Assert.All(ParameterInitializer.Initialize(new ParameterSpec("bn.bias", [5], ParameterKind.BnBias), 1), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData("resnet18", "bn2", 8)]
    [InlineData("resnet50", "bn3", 16)]
    [InlineData("sk_resnet50", "bn3", 16)]
    public void Zero_init_residual_zeroes_exactly_the_last_bn_gamma_of_each_block(string backbone, string lastBn, int blocks)
    {
        var on = Specs(backbone, true).Parameters;
        var off = Specs(backbone, false).Parameters;
        var zeroed = on.Where(p => p.ZeroInit).Select(p => p.Name).ToList();
        Assert.Equal(blocks, zeroed.Count);
        Assert.All(zeroed, n => Assert.Matches($@"^encoder\.layer[1-4]\.\d+\.{lastBn}\.weight$", n));
        Assert.DoesNotContain(off, p => p.ZeroInit);

        var values = ParameterInitializer.Initialize(on, 0);
        for (int i = 0; i < on.Count; i++)
        {
            if (on[i].Kind != ParameterKind.BnScale) continue;
            float expected = on[i].ZeroInit ? 0f : 1f;
            Assert.All(values[i], v => Assert.Equal(expected, v));
        }
        // Every block's last BN gamma is among them.
        int blockCount = on.Count(p => System.Text.RegularExpressions.Regex.IsMatch(p.Name, @"^encoder\.layer[1-4]\.\d+\.conv1\.weight$"));
        Assert.Equal(blocks, blockCount);
    }

    [Fact]
    public void SplitMix64_matches_reference_sequence()
    {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var r = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, r.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, r.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, r.NextUInt64());
    }

    [Fact]
    public void Buffers_start_at_zero_mean_unit_variance()
    {
        var ctx = Specs("resnet18", false);
        var values = ParameterInitializer.InitializeBuffers(ctx.Buffers);
        for (int i = 0; i < ctx.Buffers.Count; i++)
            Assert.All(values[i], v => Assert.Equal(ctx.Buffers[i].Name.EndsWith("running_mean") ? 0f : 1f, v));
    }
}

using SemPPL.Config;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;

namespace SemPPL.GraphGen.Tests.Models;

/// <summary>Every name the validator accepts (<see cref="KnownNames"/>) is one graphgen can build, and nothing else is.</summary>
public class KnownNamesTests
{
    [Fact]
    public void Every_known_backbone_and_stem_builds_a_backbone_of_that_name()
    {
        foreach (var name in KnownNames.Backbones)
            foreach (var stem in KnownNames.Stems)
            {
                var cfg = new ModelConfig { Backbone = name, Stem = stem, Width = 0.0625 };
                Assert.Equal(name, BackboneRegistry.Create(cfg, 3).Name);
                Assert.DoesNotContain(ConfigValidator.Problems(new SemPPLConfig { Model = cfg }), p => p.StartsWith("model.backbone", StringComparison.Ordinal) || p.StartsWith("model.stem", StringComparison.Ordinal));
            }
        Assert.Equal(KnownNames.Backbones, BackboneRegistry.Names);
        Assert.Throws<ArgumentException>(() => BackboneRegistry.Create(new ModelConfig { Backbone = "resnet26" }, 3));
    }

    [Fact]
    public void Every_known_optimizer_builds_an_optimizer_graph()
    {
        OptimizerParameter[] ps = [new("w", [2, 3], false, false)];
        foreach (var name in KnownNames.Optimizers)
            Assert.Equal($"optimizer_{name}", OptimizerGraphFactory.Build(new OptimizerConfig { Name = name, Betas = [0.9, 0.999] }, ps).Graph.Name);
    }

    [Theory]
    [InlineData("auto", "auto", 0)]
    [InlineData(" CUDA:3 ", "cuda", 3)]
    [InlineData("cpu", "cpu", 0)]
    public void The_device_syntax_is_parsed_in_one_place(string value, string kind, int index)
    {
        Assert.True(DeviceSyntax.TryParse(value, out var k, out int i));
        Assert.Equal((kind, index), (k, i));
        Assert.DoesNotContain(ConfigValidator.Problems(new SemPPLConfig { Device = value }), p => p.StartsWith("device", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData(null)]
    public void Other_device_values_are_refused(string? value)
    {
        Assert.False(DeviceSyntax.TryParse(value, out _, out _));
        Assert.Contains(ConfigValidator.Problems(new SemPPLConfig { Device = value! }), p => p.StartsWith("device", StringComparison.Ordinal));
    }
}

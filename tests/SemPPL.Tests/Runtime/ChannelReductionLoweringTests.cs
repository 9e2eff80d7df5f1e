using Onnx;
using SemPPL.GraphGen.Lowering;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Tests.Runtime;

/// <summary><see cref="ChannelReductionLowering"/>: ReduceSum / ReduceMean over axes 0, 2, 3 become a reduction over 2, 3
/// then one over 0, 2, 3 of the small result, with the same values (run by ORT both ways) and shapes; other axes stay.</summary>
public class ChannelReductionLoweringTests
{
    [Theory]
    [InlineData("sum keepdims", 1)]
    [InlineData("mean keepdims", 1)]
    [InlineData("sum to [C]", 1)]
    [InlineData("mean to [C]", 1)]
    [InlineData("both in one graph", 2)]
    [InlineData("mean over the batch", 0)]
    [InlineData("sum over H, W", 0)]
    public void Per_channel_reductions_become_two_with_the_same_values(string form, int expected)
    {
        var g = new GraphBuilder("channel_reduction");
        var rng = new Random(7);
        long[] shape = [6, 5, 7, 9];
        var x = g.Input("x", DType.Float, shape);
        var feeds = new Dictionary<string, HostTensor>
        {
            ["x"] = HostTensor.Float(shape, Enumerable.Range(0, (int)Shapes.Product(shape)).Select(_ => (float)(rng.NextDouble() * 2 - 0.5)).ToArray()),
        };
        var y = form switch
        {
            "sum keepdims" => g.ReduceSum(x, [0, 2, 3], true),
            "mean keepdims" => g.ReduceMean(x, [0, 2, 3], true),
            "sum to [C]" => g.ReduceSum(x, [0, 2, 3], false),
            "mean to [C]" => g.ReduceMean(x, [0, 2, 3], false),
            "both in one graph" => g.Add(g.ReduceSum(x, [0, 2, 3], true), g.ReduceMean(g.Mul(x, x), [0, 2, 3], true)),
            "mean over the batch" => g.ReduceMean(x, [0], true),
            _ => g.ReduceSum(x, [2, 3], true),
        };
        g.Output(y, "out");
        byte[] model = g.ToBytes();
        var proto = ModelProto.Parser.ParseFrom(model);
        Assert.Equal(expected, ChannelReductionLowering.Lower(proto));
        // each rewritten reduction is now a reduction over the spatial axes feeding the original
        Assert.Equal(expected, proto.Graph.Node.Count(n => n.Name.EndsWith(".spatial", StringComparison.Ordinal)));
        using var plainSession = new Microsoft.ML.OnnxRuntime.InferenceSession(model);
        using var loweredSession = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var plain = NchwcLoweringTests.RunAll(plainSession, feeds)["out"];
        var lowered = NchwcLoweringTests.RunAll(loweredSession, feeds)["out"];
        Assert.Equal(plain.Length, lowered.Length);
        for (int i = 0; i < plain.Length; i++)
            Assert.True(Math.Abs(plain[i] - lowered[i]) <= 1e-5 * Math.Max(1, Math.Abs(plain[i])), $"{form} [{i}]: {plain[i]} vs {lowered[i]}");
    }
}

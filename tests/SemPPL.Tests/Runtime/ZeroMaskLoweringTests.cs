using Onnx;
using SemPPL.GraphGen.Lowering;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Tests.Runtime;

/// <summary><see cref="ZeroMaskLowering"/>: Where(mask, x, 0) becomes Mul(x, Cast(mask)) with the same values (run by ORT
/// both ways), broadcasting included, the zero dropped when nothing else reads it; a Where whose third operand is not a constant zero stays.</summary>
public class ZeroMaskLoweringTests
{
    [Theory]
    [InlineData("relu backward", 1)]
    [InlineData("broadcast mask", 1)]
    [InlineData("zero read only by the where", 1)]
    [InlineData("other value", 0)]
    public void Where_with_a_zero_becomes_a_mul_of_the_cast_mask(string form, int expected)
    {
        var g = new GraphBuilder("zero_mask");
        var rng = new Random(3);
        var feeds = new Dictionary<string, HostTensor>();
        Value In(string name, params long[] shape)
        {
            // whole numbers and zeros, so that x > 0 is false on some elements and the products are exact
            feeds[name] = HostTensor.Float(shape, Enumerable.Range(0, (int)Shapes.Product(shape)).Select(_ => (float)rng.Next(-3, 4)).ToArray());
            return g.Input(name, DType.Float, shape);
        }
        var x = In("x", 4, 8, 5, 5);
        var dy = In("dy", 4, 8, 5, 5);
        var y = form switch
        {
            "relu backward" => g.Where(g.Greater(x, g.Scalar(0f)), dy, g.Scalar(0f)),
            "broadcast mask" => g.Where(g.Greater(In("gate", 1, 8, 1, 1), g.Scalar(0f)), dy, g.Scalar(0f)),
            "zero read only by the where" => g.Where(g.Greater(x, g.Scalar(1f)), dy, g.Scalar(0f)),
            _ => g.Where(g.Greater(x, g.Scalar(0f)), dy, g.Scalar(2f)),
        };
        g.Output(y, "out");
        byte[] model = g.ToBytes();
        var proto = ModelProto.Parser.ParseFrom(model);
        Assert.Equal(expected, ZeroMaskLowering.Lower(proto));
        Assert.Equal(expected == 0, proto.Graph.Node.Any(n => n.OpType == "Where"));
        // no constant is left that no node reads (ORT would warn about it at session start)
        Assert.All(proto.Graph.Initializer, i => Assert.Contains(proto.Graph.Node, n => n.Input.Contains(i.Name)));
        using var plainSession = new Microsoft.ML.OnnxRuntime.InferenceSession(model);
        using var loweredSession = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var plain = NchwcLoweringTests.RunAll(plainSession, feeds)["out"];
        var lowered = NchwcLoweringTests.RunAll(loweredSession, feeds)["out"];
        Assert.Equal(plain, lowered); // -0 == +0: x * 0 may keep x's sign
        Assert.Contains(plain, v => v == 0);
        Assert.Contains(plain, v => v != 0);
    }
}

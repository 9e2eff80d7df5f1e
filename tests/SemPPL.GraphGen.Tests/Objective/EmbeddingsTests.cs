using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.Objective;

public sealed class EmbeddingsTests(ITestOutputHelper output)
{
    /// <summary>x / ||x|| along one axis of a [2, 3, 4] tensor (reference without the eps, which is negligible here).</summary>
    private static double[] Reference(double[] x, int axis)
    {
        long[] shape = [2, 3, 4];
        var strides = Support.Reference.Strides(shape);
        var y = new double[x.Length];
        for (int k = 0; k < x.Length; k++)
        {
            var idx = Support.Reference.Unravel(k, shape);
            double ss = 0;
            for (long j = 0; j < shape[axis]; j++)
            {
                double v = x[k + (j - idx[axis]) * strides[axis]];
                ss += v * v;
            }
            y[k] = x[k] / Math.Sqrt(ss);
        }
        return y;
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void L2Normalize_gives_unit_vectors_along_the_axis(int axis)
    {
        long[] shape = [2, 3, 4];
        var x = GradCheck.RandomData(31, shape, scale: 3, awayFromZero: 0.1);
        var g = new GraphBuilder("l2norm_test");
        var xin = g.Input("x", DType.Float, shape);
        g.Output(Embeddings.L2Normalize(g, xin, axis), "y");
        var y = OrtRunner.Run(g, new Dictionary<string, HostTensor> { ["x"] = HostTensor.Float(shape, x.Select(v => (float)v).ToArray()) })["y"];
        var expected = Reference(x, axis < 0 ? axis + 3 : axis);
        double worst = Enumerable.Range(0, x.Length).Max(k => Math.Abs(y.GetDouble(k) - expected[k]));
        output.WriteLine($"L2Normalize axis {axis}: max abs error {worst:E2}");
        Assert.True(worst < 1e-6, $"max abs error {worst}");
    }

    [Fact]
    public void L2Normalize_gradient_matches_finite_differences()
    {
        long[] shape = [2, 3, 4];
        GradCheck.Check("L2Normalize", [new("x", shape, GradCheck.RandomData(32, shape, scale: 2, awayFromZero: 0.1))],
            (g, x) => Embeddings.L2Normalize(g, x[0]), xs => Reference(xs[0], 2), output);
    }
}

using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class IndexingRuleTests(ITestOutputHelper output)
{
    private static long[] L(double[] v) => v.Select(d => (long)d).ToArray();

    [Fact]
    public void Gather_axis0_embedding_rows_with_repeated_and_negative_indices()
    {
        long[] s = [5, 4], si = [2, 3];
        double[] idx = [1, 3, 1, -1, 0, 1]; // row 1 three times; -1 = row 4
        Check("Gather", [new("table", s, RandomData(41, s)), new("ids", si, idx, Differentiate: false, Type: DType.Int64)],
            (g, x) => g.Gather(x[0], x[1], 0),
            xs => Reference.Gather(s, xs[0], si, L(xs[1]), 0), output);
    }

    [Fact]
    public void Gather_axis1_with_constant_repeated_indices()
    {
        long[] s = [3, 5, 2];
        long[] idx = [4, 0, 4, 2];
        Check("Gather", [new("x", s, RandomData(42, s))],
            (g, x) => g.Gather(x[0], g.Constant(HostTensor.Int64([4], idx)), 1),
            xs => Reference.Gather(s, xs[0], [4], idx, 1), output);
    }

    [Fact]
    public void Gather_scalar_index_on_the_last_axis()
    {
        long[] s = [3, 4];
        Check("Gather", [new("x", s, RandomData(43, s))],
            (g, x) => g.Gather(x[0], g.ScalarI64(-2), 1),
            xs => Reference.Gather(s, xs[0], [], [-2], 1), output);
    }

    [Fact]
    public void GatherElements_with_repeated_and_negative_indices()
    {
        long[] s = [3, 4], si = [3, 5];
        double[] idx = [0, 0, 3, -1, 2, 1, 1, 1, 0, -4, 3, 2, 2, 2, 0];
        Check("GatherElements", [new("x", s, RandomData(44, s)), new("i", si, idx, Differentiate: false, Type: DType.Int64)],
            (g, x) => g.GatherElements(x[0], x[1], 1),
            xs => Reference.GatherElements(s, xs[0], si, L(xs[1]), 1), output);
    }

    [Fact]
    public void GatherElements_axis0()
    {
        long[] s = [4, 3], si = [2, 3];
        long[] idx = [3, 0, 3, 3, 1, 0];
        Check("GatherElements", [new("x", s, RandomData(45, s))],
            (g, x) => g.GatherElements(x[0], g.Constant(HostTensor.Int64(si, idx)), 0),
            xs => Reference.GatherElements(s, xs[0], si, idx, 0), output);
    }
}

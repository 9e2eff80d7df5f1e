using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class ShapeRuleTests(ITestOutputHelper output)
{
    private static double[] Same(double[][] xs) => (double[])xs[0].Clone();

    [Fact]
    public void Flatten()
    {
        long[] s = [2, 3, 4, 2];
        Check("Flatten", [new("x", s, RandomData(11, s))], (g, x) => g.Flatten(x[0], 2), Same, output);
        Check("Flatten", [new("x", s, RandomData(12, s))], (g, x) => g.Flatten(x[0], 0), Same, output);
    }

    [Fact]
    public void Reshape_with_zero_and_minus_one()
    {
        long[] s = [2, 3, 4];
        Check("Reshape", [new("x", s, RandomData(13, s))], (g, x) => g.Reshape(x[0], 0, -1, 2), Same, output);
    }

    [Fact]
    public void Squeeze_and_Unsqueeze()
    {
        long[] s = [2, 1, 3, 1];
        Check("Squeeze", [new("x", s, RandomData(14, s))], (g, x) => g.Squeeze(x[0], 1, -1), Same, output);
        long[] t = [2, 3];
        Check("Unsqueeze", [new("x", t, RandomData(15, t))], (g, x) => g.Unsqueeze(x[0], 0, -1), Same, output);
    }

    [Fact]
    public void Transpose()
    {
        long[] s = [2, 3, 4];
        Check("Transpose", [new("x", s, RandomData(16, s))], (g, x) => g.Transpose(x[0], 2, 0, 1),
            xs => Reference.Transpose(s, xs[0], [2, 0, 1]), output);
    }

    [Fact]
    public void Transpose_default_perm_reverses_axes()
    {
        long[] s = [2, 3, 4];
        Check("Transpose", [new("x", s, RandomData(17, s))],
            (g, x) => g.AddNode1("Transpose", [x[0]], x[0].Type, [4, 3, 2]),
            xs => Reference.Transpose(s, xs[0], [2, 1, 0]), output);
    }

    [Fact]
    public void Concat_with_a_repeated_input_and_a_constant_input()
    {
        long[] sa = [2, 3, 2], sb = [2, 1, 2], sc = [2, 2, 2];
        // a appears twice (gradients accumulate); c is not differentiated.
        Check("Concat", [new("a", sa, RandomData(18, sa)), new("b", sb, RandomData(19, sb)), new("c", sc, RandomData(20, sc), Differentiate: false)],
            (g, x) => g.Concat([x[0], x[1], x[2], x[0]], 1),
            xs => Reference.Concat([sa, sb, sc, sa], [xs[0], xs[1], xs[2], xs[0]], 1), output);
    }

    [Fact]
    public void Concat_one_input_needing_a_gradient_uses_a_slice()
    {
        long[] sa = [3, 2], sb = [3, 4];
        Check("Concat", [new("a", sa, RandomData(21, sa), Differentiate: false), new("b", sb, RandomData(22, sb))],
            (g, x) => g.Concat([x[0], x[1]], -1),
            xs => Reference.Concat([sa, sb], [xs[0], xs[1]], 1), output);
    }

    [Fact]
    public void Split_with_an_output_that_does_not_reach_the_loss()
    {
        long[] s = [3, 7];
        // y = part0 + 3 * part2; part1 has no gradient (zeros are concatenated in its place).
        Check("Split", [new("x", s, RandomData(23, s))],
            (g, x) =>
            {
                var p = g.Split(x[0], 1, 2, 3, 2);
                return g.Add(p[0], g.Mul(p[2], 3f));
            },
            xs =>
            {
                var p0 = Reference.Slice(s, xs[0], [0], [2], [1], [1]).Data;
                var p2 = Reference.Slice(s, xs[0], [5], [7], [1], [1]).Data;
                return p0.Select((v, i) => v + 3 * p2[i]).ToArray();
            }, output);
    }

    [Fact]
    public void Split_all_outputs_used()
    {
        long[] s = [4, 3];
        Check("Split", [new("x", s, RandomData(24, s))],
            (g, x) =>
            {
                var p = g.Split(x[0], 0, 1, 3);
                return g.Concat([p[1], g.Mul(p[0], p[0])], 0);
            },
            xs =>
            {
                var p0 = Reference.Slice(s, xs[0], [0], [1], [0], [1]).Data;
                var p1 = Reference.Slice(s, xs[0], [1], [4], [0], [1]).Data;
                return p1.Concat(p0.Select(v => v * v)).ToArray();
            }, output);
    }

    public static TheoryData<string, long[], long[], long[], long[]> SliceCases => new()
    {
        // name, starts, ends, axes, steps on x [5, 6, 4]
        { "step 1", [1, 2], [4, 5], [0, 1], [1, 1] },
        { "negative starts", [-4, -3], [-1, long.MaxValue], [0, 2], [1, 1] },
        { "step 2", [0, 1], [5, 6], [0, 1], [2, 2] },
        { "step 2 negative start, tail clipped", [-5], [long.MaxValue], [1], [2] },
        { "step 3 on the last axis", [0], [4], [-1], [3] },
        { "negative step", [-1, 3], [long.MinValue, 0], [1, 0], [-2, -1] },
        { "mixed", [1, -2, 0], [5, 0, 3], [0, 2, 1], [2, -1, 1] },
    };

    [Theory]
    [MemberData(nameof(SliceCases))]
    public void Slice(string name, long[] starts, long[] ends, long[] axes, long[] steps)
    {
        long[] s = [5, 6, 4];
        output.WriteLine(name);
        Check("Slice", [new("x", s, RandomData(25, s))],
            (g, x) => g.Slice(x[0], starts, ends, axes, steps),
            xs => Reference.Slice(s, xs[0], starts, ends, axes, steps).Data, output);
    }

    [Fact]
    public void Expand_sums_the_copies()
    {
        long[] s = [3, 1];
        Check("Expand", [new("x", s, RandomData(26, s))], (g, x) => g.Expand(x[0], 2, 3, 4),
            xs => Reference.Expand(s, xs[0], [2, 3, 4]), output);
        long[] t = [1, 4];
        Check("Expand", [new("x", t, RandomData(27, t))], (g, x) => g.Expand(x[0], 3, 1),
            xs => Reference.Expand(t, xs[0], [3, 1]), output);
    }

    [Fact]
    public void Tile()
    {
        long[] s = [2, 1, 3];
        Check("Tile", [new("x", s, RandomData(28, s))], (g, x) => g.Tile(x[0], 3, 2, 1),
            xs => Reference.Tile(s, xs[0], [3, 2, 1]), output);
        long[] t = [2, 3];
        Check("Tile", [new("x", t, RandomData(29, t))], (g, x) => g.Tile(x[0], 1, 4),
            xs => Reference.Tile(t, xs[0], [1, 4]), output);
    }

    [Fact]
    public void Pad_constant_mode_positive_and_negative_pads()
    {
        long[] s = [3, 4, 2];
        long[] pads = [1, 0, 2, 2, -1, 0];
        Check("Pad", [new("x", s, RandomData(30, s))], (g, x) => g.Pad(x[0], pads, 0.5f),
            xs => Reference.Pad(s, xs[0], pads, 0.5), output);
    }

    [Fact]
    public void Pad_gradient_of_the_padding_value_and_axes_input()
    {
        long[] s = [3, 4];
        // Pad-18 with axes [1]: pads [begin_1, end_1] = [2, -1]; the padding value is a graph input.
        Check("Pad", [new("x", s, RandomData(31, s)), new("v", [], [0.3])],
            (g, x) => g.AddNode1("Pad", [x[0], g.Int64s(2, -1), x[1], g.Int64s(1)], DType.Float, [3, 5]),
            xs => Reference.Pad(s, xs[0], [0, 2, 0, -1], xs[1][0]), output);
    }
}

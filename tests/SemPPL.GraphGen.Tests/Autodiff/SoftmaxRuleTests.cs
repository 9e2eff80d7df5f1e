using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class SoftmaxRuleTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(new long[] { 4, 7 }, -1)]
    [InlineData(new long[] { 2, 3, 5 }, -1)]
    [InlineData(new long[] { 2, 5, 3 }, 1)]
    [InlineData(new long[] { 3, 2, 4 }, 0)]
    public void Softmax(long[] s, int axis)
    {
        Check("Softmax", [new("x", s, RandomData(91, s, scale: 3))],
            (g, x) => g.Softmax(x[0], axis),
            xs => Reference.Softmax(s, xs[0], axis), output);
    }

    [Theory]
    [InlineData(new long[] { 4, 7 }, -1)]
    [InlineData(new long[] { 2, 3, 5 }, -1)]
    [InlineData(new long[] { 2, 5, 3 }, 1)]
    [InlineData(new long[] { 3, 2, 4 }, 0)]
    public void LogSoftmax(long[] s, int axis)
    {
        Check("LogSoftmax", [new("x", s, RandomData(92, s, scale: 3))],
            (g, x) => g.LogSoftmax(x[0], axis),
            xs => Reference.Softmax(s, xs[0], axis, log: true), output);
    }

    [Fact]
    public void Cross_entropy_from_LogSoftmax_and_a_weighted_Softmax()
    {
        long[] s = [3, 6];
        // Softmax(x) * LogSoftmax(x): x reaches the loss through both ops.
        Check("Softmax*LogSoftmax", [new("x", s, RandomData(93, s, scale: 2))],
            (g, x) => g.Mul(g.Softmax(x[0], 1), g.LogSoftmax(x[0], 1)),
            xs =>
            {
                var p = Reference.Softmax(s, xs[0], 1);
                var l = Reference.Softmax(s, xs[0], 1, log: true);
                return p.Select((v, i) => v * l[i]).ToArray();
            }, output);
    }
}

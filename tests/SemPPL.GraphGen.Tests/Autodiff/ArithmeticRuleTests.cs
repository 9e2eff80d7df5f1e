using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class ArithmeticRuleTests(ITestOutputHelper output)
{
    [Fact]
    public void Add_with_broadcasting()
    {
        long[] sa = [3, 1, 5], sb = [4, 1];
        Check("Add", [new("a", sa, RandomData(1, sa)), new("b", sb, RandomData(2, sb))],
            (g, x) => g.Add(x[0], x[1]),
            xs => Reference.Broadcast2(sa, sb, xs[0], xs[1], (p, q) => p + q), output);
    }

    [Fact]
    public void Sub_with_broadcasting()
    {
        long[] sa = [3, 5], sb = [5];
        Check("Sub", [new("a", sa, RandomData(3, sa)), new("b", sb, RandomData(4, sb))],
            (g, x) => g.Sub(x[0], x[1]),
            xs => Reference.Broadcast2(sa, sb, xs[0], xs[1], (p, q) => p - q), output);
    }

    [Fact]
    public void Mul_with_broadcasting()
    {
        long[] sa = [2, 3, 1], sb = [1, 3, 5];
        Check("Mul", [new("a", sa, RandomData(5, sa)), new("b", sb, RandomData(6, sb))],
            (g, x) => g.Mul(x[0], x[1]),
            xs => Reference.Broadcast2(sa, sb, xs[0], xs[1], (p, q) => p * q), output);
    }

    [Fact]
    public void Relu()
    {
        long[] s = [3, 7];
        Check("Relu", [new("x", s, RandomData(7, s, awayFromZero: 0.05))],
            (g, x) => g.Relu(x[0]), xs => xs[0].Select(v => Math.Max(0, v)).ToArray(), output);
    }

    [Fact]
    public void Identity_and_gradient_accumulation_over_several_consumers()
    {
        long[] s = [4, 3];
        // y = x*x + x: x has three consumers, gradients must be summed.
        Check("Identity", [new("x", s, RandomData(8, s))],
            (g, x) => g.Add(g.Mul(x[0], g.Identity(x[0])), x[0]), xs => xs[0].Select(v => v * v + v).ToArray(), output);
    }
}

using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class LinearRuleTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(new long[] { 3, 4 }, new long[] { 4, 5 })]          // 2-D (Gemm backward)
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 })]    // batched 3-D x 3-D
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 4, 5 })]       // [B,M,K] x [K,N] (folded weight gradient)
    [InlineData(new long[] { 3, 4 }, new long[] { 2, 4, 5 })]       // 2-D x batched: a's gradient summed over the batch
    [InlineData(new long[] { 2, 1, 3, 4 }, new long[] { 3, 4, 5 })] // both batch axes broadcast
    [InlineData(new long[] { 4 }, new long[] { 4 })]                // dot product
    [InlineData(new long[] { 4 }, new long[] { 4, 5 })]             // vector x matrix
    [InlineData(new long[] { 3, 4 }, new long[] { 4 })]             // matrix x vector
    [InlineData(new long[] { 4 }, new long[] { 2, 4, 5 })]          // vector x batched
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 4 })]          // batched x vector
    [InlineData(new long[] { 1, 7 }, new long[] { 7, 1 })]          // unit dimensions
    public void MatMul(long[] sa, long[] sb)
    {
        Check("MatMul", [new("a", sa, RandomData(71, sa)), new("b", sb, RandomData(72, sb))],
            (g, x) => g.MatMul(x[0], x[1]),
            xs => Reference.MatMul(sa, sb, xs[0], xs[1]), output);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatMul_with_one_input_not_differentiated(bool differentiateA)
    {
        long[] sa = [2, 3, 4], sb = [4, 5];
        Check("MatMul", [new("a", sa, RandomData(73, sa), differentiateA), new("b", sb, RandomData(74, sb), !differentiateA)],
            (g, x) => g.MatMul(x[0], x[1]),
            xs => Reference.MatMul(sa, sb, xs[0], xs[1]), output);
    }

    [Theory]
    [InlineData(new long[] { 3, 4 })]
    [InlineData(new long[] { 2, 3, 4 })]
    [InlineData(new long[] { 2, 2, 3, 4 })]
    public void MatMul_by_a_2D_weight_backward_is_two_Gemms_without_transposes_or_reductions(long[] sa)
    {
        var g = new GraphBuilder("linear");
        var a = g.Input("a", DType.Float, sa);
        var w = g.Input("w", DType.Float, 4, 5);
        var loss = g.ReduceSum(g.MatMul(a, w));
        int forward = g.Nodes.Count;
        Differentiator.Differentiate(g, loss, [a, w]);
        var ops = g.Nodes.Skip(forward).Select(n => n.OpType).ToList();
        output.WriteLine(string.Join(" ", ops));
        Assert.Equal(2, ops.Count(o => o == "Gemm"));
        Assert.DoesNotContain("MatMul", ops);
        Assert.DoesNotContain("Transpose", ops);
        Assert.DoesNotContain("ReduceSum", ops);
    }

    public static TheoryData<bool, bool, string, float, float> GemmCases()
    {
        var d = new TheoryData<bool, bool, string, float, float>();
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                foreach (var c in new[] { "none", "N", "MN", "scalar", "M1" })
                    d.Add(ta, tb, c, 0.7f, -1.3f);
                d.Add(ta, tb, "MN", 1f, 1f);
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Gemm(bool transA, bool transB, string cKind, float alpha, float beta)
    {
        const long m = 3, k = 4, n = 5;
        long[] sa = transA ? [k, m] : [m, k];
        long[] sb = transB ? [n, k] : [k, n];
        long[]? sc = cKind switch { "N" => [n], "MN" => [m, n], "scalar" => [], "M1" => [m, 1], _ => null };
        var inputs = new List<Input> { new("a", sa, RandomData(81, sa)), new("b", sb, RandomData(82, sb)) };
        if (sc is not null) inputs.Add(new("c", sc, RandomData(83, sc)));
        Check("Gemm", inputs,
            (g, x) => g.Gemm(x[0], x[1], sc is null ? null : x[2], transA, transB, alpha, beta),
            xs => Reference.Gemm(sa, sb, sc, xs[0], xs[1], sc is null ? null : xs[2], transA, transB, alpha, beta), output);
    }
}

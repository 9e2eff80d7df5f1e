using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// Gather: dx = zeros(data) with dy's rows added at the gathered indices; repeated indices accumulate.
/// Formulation: ScatterND with reduction "add" over the flattened rows, O(indices x row) work and
/// memory, rather than a OneHot-MatMul, which costs O(indices x table rows x row) and would dominate for
/// embedding-size tables (a 65536-entry queue, a vocabulary). For axis > 0 the leading axes are moved
/// behind the gathered axis with one Transpose of dy and one of the result.
/// The indices are not differentiable.
/// </summary>
public sealed class GatherRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Gather"];

    public void Backward(GradientContext ctx)
    {
        if (!ctx.NeedsGrad(0)) return;
        var g = ctx.G; var data = ctx.X(0); var indices = ctx.X(1); var dy = ctx.OutputGrad()!;
        int axis = Shapes.NormAxis(ctx.Node.AttrInt("axis", 0), data.Rank, "Gather");
        long n = data.Shape[axis];
        long p = Shapes.Product(data.Shape.Take(axis));
        long s = Shapes.Product(data.Shape.Skip(axis + 1));
        long m = Math.Max(1, indices.ElementCount);
        if (indices.ElementCount == 0 || dy.ElementCount == 0) { ctx.AddGrad(0, g.Zeros(data.Type, data.Shape)); return; }

        var idx = g.Reshape(IndexGrad.NonNegative(g, indices, n), m, 1);
        Value dx;
        if (p == 1)
        {
            var upd = g.Reshape(dy, m, s);
            dx = g.ScatterND(g.Zeros(data.Type, n, s), idx, upd, "add");
        }
        else
        {
            var upd = g.Transpose(g.Reshape(dy, p, m, s), 1, 0, 2);              // [m, p, s]
            var acc = g.ScatterND(g.Zeros(data.Type, n, p, s), idx, upd, "add");  // [n, p, s]
            dx = g.Transpose(acc, 1, 0, 2);                                        // [p, n, s]
        }
        ctx.AddGrad(0, g.Reshape(dx, data.Shape));
    }
}

/// <summary>GatherElements: dx = ScatterElements(zeros(data), indices, dy, axis, reduction add).</summary>
public sealed class GatherElementsRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["GatherElements"];

    public void Backward(GradientContext ctx)
    {
        if (!ctx.NeedsGrad(0)) return;
        var g = ctx.G; var data = ctx.X(0); var dy = ctx.OutputGrad()!;
        int axis = Shapes.NormAxis(ctx.Node.AttrInt("axis", 0), data.Rank, "GatherElements");
        var idx = IndexGrad.NonNegative(g, ctx.X(1), data.Shape[axis]);
        ctx.AddGrad(0, g.ScatterElements(g.Zeros(data.Type, data.Shape), idx, dy, axis, "add"));
    }
}

internal static class IndexGrad
{
    /// <summary>
    /// Int64 indices with negative entries wrapped (i + n): gathers accept [-n, n), and the scatter
    /// kernels are only relied on for [0, n). Constant non-negative indices pass through unchanged.
    /// </summary>
    public static Value NonNegative(GraphBuilder g, Value indices, long n)
    {
        var i64 = g.Cast(indices, DType.Int64);
        var c = g.TryGetConstant(indices);
        if (c is not null && Enumerable.Range(0, (int)c.ElementCount).All(k => c.GetDouble(k) >= 0)) return i64;
        var negative = g.Less(i64, g.ScalarI64(0));
        return g.Where(negative, g.Add(i64, g.ScalarI64(n)), i64);
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>Axes of a reduce node (input 1; null = all axes unless noop_with_empty_axes) normalised, and the keepdims shape.</summary>
internal static class ReduceAxes
{
    public static (int[] Axes, long[] KeepShape) Of(GradientContext ctx)
    {
        var x = ctx.X(0);
        var given = ctx.G.ConstantInts(ctx.Node, 1);
        int[] axes = given is null || given.Length == 0
            ? Enumerable.Range(0, x.Rank).ToArray()
            : given.Select(a => Shapes.NormAxis(a, x.Rank, ctx.Node.OpType)).ToArray();
        var keep = x.Shape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray();
        return (axes, keep);
    }
}

/// <summary>ReduceSum: dx = expand(dy); ReduceMean: dx = expand(dy) / count.</summary>
public sealed class ReduceSumMeanRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["ReduceSum", "ReduceMean"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0);
        var (axes, keep) = ReduceAxes.Of(ctx);
        var dy = g.Reshape(ctx.OutputGrad()!, keep);
        if (ctx.Node.OpType == "ReduceMean")
            dy = g.Mul(dy, 1f / axes.Aggregate(1L, (a, i) => a * x.Shape[i]));
        ctx.AddGrad(0, g.Expand(dy, x.Shape));
    }
}

/// <summary>ReduceSumSquare: dx = 2 x expand(dy).</summary>
public sealed class ReduceSumSquareRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["ReduceSumSquare"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0);
        var (axes, keep) = ReduceAxes.Of(ctx);
        ctx.AddGrad(0, g.Mul(g.Mul(x, 2f), g.Expand(g.Reshape(ctx.OutputGrad()!, keep), x.Shape)));
    }
}

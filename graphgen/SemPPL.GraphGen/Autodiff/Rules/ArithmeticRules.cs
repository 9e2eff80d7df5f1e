using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>d(a+b) = (dy, dy), d(a-b) = (dy, -dy), each summed back over broadcast axes.</summary>
public sealed class AddSubRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Add", "Sub"];

    public void Backward(GradientContext ctx)
    {
        var dy = ctx.OutputGrad()!;
        if (ctx.NeedsGrad(0)) ctx.AddGrad(0, ctx.ReduceToShape(dy, ctx.X(0).Shape));
        if (ctx.NeedsGrad(1))
        {
            var d = ctx.Node.OpType == "Sub" ? ctx.G.Neg(dy) : dy;
            ctx.AddGrad(1, ctx.ReduceToShape(d, ctx.X(1).Shape));
        }
    }
}

/// <summary>d(a*b) = (dy*b, dy*a).</summary>
public sealed class MulRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Mul"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var dy = ctx.OutputGrad()!;
        if (ctx.NeedsGrad(0)) ctx.AddGrad(0, ctx.ReduceToShape(g.Mul(dy, ctx.X(1)), ctx.X(0).Shape));
        if (ctx.NeedsGrad(1)) ctx.AddGrad(1, ctx.ReduceToShape(g.Mul(dy, ctx.X(0)), ctx.X(1).Shape));
    }
}

/// <summary>Identity passes the gradient through (stop-gradient Identity nodes are skipped by the differentiator).</summary>
public sealed class IdentityRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Identity"];

    public void Backward(GradientContext ctx) => ctx.AddGrad(0, ctx.OutputGrad()!);
}

/// <summary>d relu(x) = dy where x > 0.</summary>
public sealed class ReluRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Relu"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0);
        var mask = g.Greater(x, g.Scalar(0, x.Type));
        ctx.AddGrad(0, g.Where(mask, ctx.OutputGrad()!, g.Scalar(0, x.Type)));
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// Cast between floating types: dx = cast(dy, type of x). Casts from or to a non-floating type
/// carry no gradient (nothing is added for the input).
/// </summary>
public sealed class CastRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Cast"];

    public void Backward(GradientContext ctx)
    {
        var x = ctx.X(0);
        if (!x.Type.IsFloating() || !ctx.Y().Type.IsFloating()) return;
        ctx.AddGrad(0, ctx.G.Cast(ctx.OutputGrad()!, x.Type));
    }
}

/// <summary>Variadic Sum: each input gets dy summed back over its broadcast axes.</summary>
public sealed class SumRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Sum"];

    public void Backward(GradientContext ctx)
    {
        var dy = ctx.OutputGrad()!;
        for (int i = 0; i < ctx.Node.Inputs.Length; i++)
            if (ctx.NeedsGrad(i)) ctx.AddGrad(i, ctx.ReduceToShape(dy, ctx.X(i).Shape));
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

// Ops that select among their inputs. Tie policy (Max, Min, ReduceMax): the gradient is shared
// equally among all tied maxima (equality mask divided by the tie count), as PyTorch does for
// torch.maximum/minimum and amax; the shares always sum to dy.

/// <summary>
/// y = clip(x, min, max) (opset 11+ inputs; either bound may be omitted): dx = dy where
/// min &lt; x &lt; max, else 0 (strict: at a bound the gradient is 0). The bounds are not
/// differentiated; the rule throws <see cref="NotSupportedException"/> when one needs a gradient.
/// </summary>
public sealed class ClipRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Clip"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0); var dy = ctx.OutputGrad()!;
        for (int i = 1; i <= 2; i++)
            if (ctx.NeedsGrad(i))
                throw new NotSupportedException(
                    $"gradient rule for {ctx.Node}: the {(i == 1 ? "min" : "max")} bound '{ctx.X(i).Name}' depends on a differentiated value; " +
                    "Clip bounds are not differentiated (make them constants, or stop their gradient)");
        if (!ctx.NeedsGrad(0)) return;
        var min = ctx.Node.OptionalInput(1); var max = ctx.Node.OptionalInput(2);
        Value? mask = null;
        if (min is not null) mask = g.Greater(x, min);
        if (max is not null) { var below = g.Less(x, max); mask = mask is null ? below : g.And(mask, below); }
        ctx.AddGrad(0, mask is null ? dy : g.Where(mask, dy, g.Scalar(0, dy.Type)));
    }
}

/// <summary>
/// Elementwise Max/Min over any number of inputs, with broadcasting: input i gets
/// dy * [x_i == y] / (number of inputs equal to y) (AddGrad sums it back over broadcast axes).
/// </summary>
public sealed class MaxMinRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Max", "Min"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var y = ctx.Y(); var dy = ctx.OutputGrad()!;
        int n = ctx.Node.Inputs.Length;
        if (n == 1) { ctx.AddGrad(0, dy); return; }
        var masks = Enumerable.Range(0, n).Select(i => g.Cast(g.Equal(ctx.X(i), y), y.Type)).ToArray();
        var share = g.Div(dy, g.Sum(masks));
        for (int i = 0; i < n; i++)
            if (ctx.NeedsGrad(i)) ctx.AddGrad(i, g.Mul(share, masks[i]));
    }
}

/// <summary>
/// ReduceMax: the gradient goes to the maximum of each reduced group; with ties it is split
/// equally: dx = [x == max] * dy / count(x == max), with max and dy in keepdims shape.
/// </summary>
public sealed class ReduceMaxRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["ReduceMax"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0); var dy = ctx.OutputGrad()!;
        var given = g.ConstantInts(ctx.Node, 1);
        if ((given is null || given.Length == 0) && ctx.Node.AttrInt("noop_with_empty_axes", 0) != 0)
        {
            ctx.AddGrad(0, dy); // no axes and noop: ReduceMax is the identity
            return;
        }
        var (axes, keep) = ReduceAxes.Of(ctx);
        var mask = g.Cast(g.Equal(x, g.Reshape(ctx.Y(), keep)), x.Type);
        var count = g.ReduceSum(mask, axes.Select(a => (long)a).ToArray(), keepDims: true);
        ctx.AddGrad(0, g.Mul(mask, g.Div(g.Reshape(dy, keep), count)));
    }
}

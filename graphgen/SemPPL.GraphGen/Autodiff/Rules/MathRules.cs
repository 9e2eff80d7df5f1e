using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

// Elementwise math. Where the derivative is expressible with the forward output y, the rule reads
// y instead of recomputing the function (Exp, Sigmoid, Tanh, Sqrt, Reciprocal, Div).

/// <summary>y = a / b: da = dy / b, db = -(dy / b) * y; each summed back over broadcast axes.</summary>
public sealed class DivRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Div"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G;
        var t = g.Div(ctx.OutputGrad()!, ctx.X(1)); // dy / b, shared by both inputs
        if (ctx.NeedsGrad(0)) ctx.AddGrad(0, ctx.ReduceToShape(t, ctx.X(0).Shape));
        if (ctx.NeedsGrad(1)) ctx.AddGrad(1, ctx.ReduceToShape(g.Neg(g.Mul(t, ctx.Y())), ctx.X(1).Shape));
    }
}

/// <summary>y = -x: dx = -dy.</summary>
public sealed class NegRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Neg"];

    public void Backward(GradientContext ctx) => ctx.AddGrad(0, ctx.G.Neg(ctx.OutputGrad()!));
}

/// <summary>y = exp(x): dx = dy * y.</summary>
public sealed class ExpRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Exp"];

    public void Backward(GradientContext ctx) => ctx.AddGrad(0, ctx.G.Mul(ctx.OutputGrad()!, ctx.Y()));
}

/// <summary>y = log(x): dx = dy / x.</summary>
public sealed class LogRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Log"];

    public void Backward(GradientContext ctx) => ctx.AddGrad(0, ctx.G.Div(ctx.OutputGrad()!, ctx.X(0)));
}

/// <summary>y = sqrt(x): dx = dy / (2 y).</summary>
public sealed class SqrtRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Sqrt"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G;
        ctx.AddGrad(0, g.Div(g.Mul(ctx.OutputGrad()!, 0.5f), ctx.Y()));
    }
}

/// <summary>y = 1 / x: dx = -dy * y^2.</summary>
public sealed class ReciprocalRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Reciprocal"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var y = ctx.Y();
        ctx.AddGrad(0, g.Neg(g.Mul(ctx.OutputGrad()!, g.Mul(y, y))));
    }
}

/// <summary>y = sigmoid(x): dx = dy * y * (1 - y).</summary>
public sealed class SigmoidRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Sigmoid"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var y = ctx.Y();
        ctx.AddGrad(0, g.Mul(g.Mul(ctx.OutputGrad()!, y), g.Sub(g.Scalar(1, y.Type), y)));
    }
}

/// <summary>y = tanh(x): dx = dy * (1 - y^2).</summary>
public sealed class TanhRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Tanh"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var y = ctx.Y();
        ctx.AddGrad(0, g.Mul(ctx.OutputGrad()!, g.Sub(g.Scalar(1, y.Type), g.Mul(y, y))));
    }
}

/// <summary>y = |x|: dx = dy * sign(x) (0 at x = 0, the subgradient PyTorch also uses).</summary>
public sealed class AbsRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Abs"];

    public void Backward(GradientContext ctx) => ctx.AddGrad(0, ctx.G.Mul(ctx.OutputGrad()!, ctx.G.Sign(ctx.X(0))));
}

/// <summary>
/// y = a ^ b with b not differentiated: da = dy * b * a^(b-1), summed back over broadcast axes.
/// When b is a constant initializer, b - 1 is folded on the host and b = 1 and b = 2 take
/// shortcuts (dy, 2 a dy). A gradient with respect to the exponent is not supported: the rule
/// throws <see cref="NotSupportedException"/> naming the node when the exponent needs one.
/// </summary>
public sealed class PowRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Pow"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var a = ctx.X(0); var b = ctx.X(1);
        if (ctx.NeedsGrad(1))
            throw new NotSupportedException(
                $"gradient rule for {ctx.Node}: the exponent '{b.Name}' depends on a differentiated value; " +
                "only the base of Pow is differentiated (make the exponent a constant, or stop its gradient)");
        if (!ctx.NeedsGrad(0)) return;
        var dy = ctx.OutputGrad()!;

        Value da;
        var constant = g.TryGetConstant(b);
        if (constant is not null && constant.ElementCount == 1 && constant.GetDouble(0) is 1.0 or 2.0)
        {
            da = constant.GetDouble(0) == 1.0 ? dy : g.Mul(g.Mul(dy, a), 2f);
        }
        else
        {
            Value bT, bMinus1;
            if (constant is not null)
            {
                var values = Enumerable.Range(0, (int)constant.ElementCount).Select(i => constant.GetDouble(i)).ToArray();
                bT = g.Constant(Typed(a.Type, constant.Shape, values), "pow_exponent");
                bMinus1 = g.Constant(Typed(a.Type, constant.Shape, values.Select(v => v - 1).ToArray()), "pow_exponent_m1");
            }
            else
            {
                bT = g.Cast(b, a.Type);
                bMinus1 = g.Sub(bT, g.Scalar(1, a.Type));
            }
            da = g.Mul(dy, g.Mul(g.Pow(a, bMinus1), bT));
        }
        ctx.AddGrad(0, ctx.ReduceToShape(da, a.Shape));
    }

    private static HostTensor Typed(DType type, long[] shape, double[] values) => type switch
    {
        DType.Float => HostTensor.Float(shape, values.Select(v => (float)v).ToArray()),
        DType.Double => HostTensor.Double(shape, values),
        _ => throw new NotSupportedException($"Pow gradient for element type {type}"),
    };
}

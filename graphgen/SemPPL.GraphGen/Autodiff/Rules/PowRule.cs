using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// y = a ^ b with b not differentiated: da = dy * b * a^(b-1) (AddGrad sums it back over broadcast axes).
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
        ctx.AddGrad(0, da);
    }

    private static HostTensor Typed(DType type, long[] shape, double[] values) => type switch
    {
        DType.Float => HostTensor.Float(shape, values.Select(v => (float)v).ToArray()),
        DType.Double => HostTensor.Double(shape, values),
        _ => throw new NotSupportedException($"Pow gradient for element type {type}"),
    };
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>y = softmax(x) along one axis (opset 13+): dx = y * (dy - sum(dy * y, axis)).</summary>
public sealed class SoftmaxRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Softmax"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var y = ctx.Y(); var dy = ctx.OutputGrad()!;
        long axis = Shapes.NormAxis(ctx.Node.AttrInt("axis", -1), y.Rank, "Softmax");
        var dot = g.ReduceSum(g.Mul(dy, y), [axis], keepDims: true);
        ctx.AddGrad(0, g.Mul(y, g.Sub(dy, dot)));
    }
}

/// <summary>y = log_softmax(x) along one axis (opset 13+): dx = dy - exp(y) * sum(dy, axis).</summary>
public sealed class LogSoftmaxRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["LogSoftmax"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var y = ctx.Y(); var dy = ctx.OutputGrad()!;
        long axis = Shapes.NormAxis(ctx.Node.AttrInt("axis", -1), y.Rank, "LogSoftmax");
        var total = g.ReduceSum(dy, [axis], keepDims: true);
        ctx.AddGrad(0, g.Sub(dy, g.Mul(g.Exp(y), total)));
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>
/// Projector / predictor MLP (docs/method.md): Linear(hidden, bias) -> BatchNorm -> ReLU -> Linear(out, no bias).
/// Parameters: {name}.fc1.weight [hidden, in], {name}.fc1.bias, {name}.bn.weight/bias (+ running stats),
/// {name}.fc2.weight [out, hidden].
/// </summary>
public static class Mlp
{
    public static Value Forward(ModelContext ctx, Value x, long hidden, long @out, string name)
    {
        if (hidden < 1 || @out < 1) throw new ArgumentException($"{name}: MLP sizes must be positive (hidden {hidden}, out {@out})");
        var g = ctx.Graph;
        return ctx.InScope(name + ".", () =>
        {
            var h = ctx.Linear(x, hidden, "fc1", bias: true);
            h = g.Relu(ctx.BatchNorm(h, "bn"));
            return ctx.Linear(h, @out, "fc2", bias: false);
        });
    }
}

/// <summary>Linear classifier with bias: {name}.weight [numClasses, in], {name}.bias [numClasses].</summary>
public static class LinearClassifier
{
    public static Value Forward(ModelContext ctx, Value x, long numClasses, string name = "classifier")
    {
        if (numClasses < 1) throw new ArgumentException($"{name}: number of classes must be positive");
        // The scope is the name's parent; Linear appends ".weight"/".bias" to the name itself.
        return ctx.Linear(x, numClasses, name, bias: true);
    }
}

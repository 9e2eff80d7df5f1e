using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Evaluation;

/// <summary>
/// Linear probe on frozen features: logits = features W^T + b, softmax cross-entropy, and the
/// gradients of W and b (trained by an SGD optimizer graph). Inputs: features [N, F], labels [N],
/// probe.weight [K, F], probe.bias [K]; outputs: loss, accuracy, grad.probe.weight, grad.probe.bias.
/// </summary>
public static class LinearProbeGraph
{
    public const string Weight = "probe.weight", Bias = "probe.bias";

    public static GraphBuilder Build(long batch, long featureDim, int numClasses)
    {
        var g = new GraphBuilder("semppl_linear_probe");
        var features = g.Input("features", DType.Float, batch, featureDim);
        var labels = g.Input("labels", DType.Int64, batch);
        var w = g.Input(Weight, DType.Float, numClasses, featureDim);
        var b = g.Input(Bias, DType.Float, numClasses);
        var logits = g.Gemm(features, w, b, transB: true);
        var (loss, accuracy) = ClassifierLoss.Build(g, logits, labels);
        g.Output(loss, "loss");
        g.Output(accuracy, "accuracy");
        Differentiator.Differentiate(g, loss, [w, b]);
        return g;
    }
}

using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Evaluation;

/// <summary>
/// Linear probe on frozen features: logits = 10 * l2normalize(features) W^T + b, softmax cross-entropy, and the
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
        var logits = Logits(g, features, w, b);
        var (loss, accuracy) = ClassifierLoss.Build(g, logits, labels);
        g.Output(loss, "loss");
        g.Output(accuracy, "accuracy");
        Differentiator.Differentiate(g, loss, [w, b]);
        return g;
    }

    /// <summary>Logits of the trained probe: inputs features [N, F], probe.weight, probe.bias; output logits [N, K].</summary>
    public static GraphBuilder BuildPredict(long batch, long featureDim, int numClasses)
    {
        var g = new GraphBuilder("semppl_linear_probe_predict");
        var features = g.Input("features", DType.Float, batch, featureDim);
        var w = g.Input(Weight, DType.Float, numClasses, featureDim);
        var b = g.Input(Bias, DType.Float, numClasses);
        g.Output(Logits(g, features, w, b), "logits");
        return g;
    }

    // Features are l2-normalised (scale-free, so one learning rate suits every backbone) and scaled by
    // a fixed temperature of 1/0.1 so the softmax can become confident.
    private static Value Logits(GraphBuilder g, Value features, Value w, Value b) =>
        g.Gemm(g.Mul(Embeddings.L2Normalize(g, features), 10f), w, b, transB: true);
}

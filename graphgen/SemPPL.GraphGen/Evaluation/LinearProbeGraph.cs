using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Evaluation;

/// <summary>
/// Linear probe on frozen features: logits = 10 * l2normalize(features) W^T + b, softmax cross-entropy, and the
/// gradients of W and b (trained by an SGD optimizer graph). Inputs: features [N, F], labels [N],
/// probe.weight [K, F], probe.bias [K]; outputs: loss, accuracy, grad.probe.weight, grad.probe.bias.
/// </summary>
public static class LinearProbeGraph
{
    /// <summary>The probe's weight and bias as its optimizer graph sees them (the bias without weight decay).</summary>
    public static IReadOnlyList<OptimizerParameter> Parameters(long featureDim, int numClasses) =>
    [
        new(ProbeWeight, [numClasses, featureDim], false, false),
        new(ProbeBias, [numClasses], true, true),
    ];

    public static BuiltGraph Build(long batch, long featureDim, int numClasses)
    {
        var g = new GraphBuilder("semppl_linear_probe");
        var features = g.Input(Features, DType.Float, batch, featureDim);
        var labels = g.Input(Labels, DType.Int64, batch);
        var w = g.Input(ProbeWeight, DType.Float, numClasses, featureDim);
        var b = g.Input(ProbeBias, DType.Float, numClasses);
        var logits = ProbeLogits(g, features, w, b);
        var (loss, accuracy) = ClassifierLoss.Build(g, logits, labels);
        g.Output(loss, Loss);
        g.Output(accuracy, Accuracy);
        Differentiator.Differentiate(g, loss, [w, b], outputPrefix: GradPrefix);
        var contract = new ContractBuilder().HostFed(Features, HostRole.Features).HostFed(Labels, HostRole.Labels)
            .StateRead(ProbeWeight).StateRead(ProbeBias).HostResult(Loss, HostRole.Loss).HostResult(Accuracy, HostRole.ClassifierAccuracy)
            .Passed(Grad(ProbeWeight)).Passed(Grad(ProbeBias));
        return new BuiltGraph(g, contract.Finish(g));
    }

    /// <summary>Logits of the trained probe: inputs features [N, F], probe.weight, probe.bias; output logits [N, K].</summary>
    public static BuiltGraph BuildPredict(long batch, long featureDim, int numClasses, int opset = GraphBuilder.DefaultOpset)
    {
        var g = new GraphBuilder("semppl_linear_probe_predict", opset);
        var features = g.Input(Features, DType.Float, batch, featureDim);
        var w = g.Input(ProbeWeight, DType.Float, numClasses, featureDim);
        var b = g.Input(ProbeBias, DType.Float, numClasses);
        g.Output(ProbeLogits(g, features, w, b), Logits);
        var contract = new ContractBuilder().HostFed(Features, HostRole.Features).StateRead(ProbeWeight).StateRead(ProbeBias)
            .HostResult(Logits, HostRole.Logits);
        return new BuiltGraph(g, contract.Finish(g));
    }

    // Features are l2-normalised (scale-free, so one learning rate suits every backbone) and scaled by
    // a fixed temperature of 1/0.1 so the softmax can become confident.
    private static Value ProbeLogits(GraphBuilder g, Value features, Value w, Value b) =>
        g.Gemm(g.Mul(Embeddings.L2Normalize(g, features), 10f), w, b, transB: true);
}

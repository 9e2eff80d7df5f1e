using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Layers;

/// <summary>Outputs of a training-mode BatchNorm: the normalised tensor and the updated running statistics.</summary>
public sealed record BatchNormTrainingResult(Value Y, Value NewRunningMean, Value NewRunningVar);

/// <summary>
/// BatchNormalization as free functions. Training mode centres x by its batch mean, takes the biased variance of
/// the centred tensor, and normalises with an inference-mode BatchNormalization node fed those statistics (one fused
/// pass). ORT's training-mode BatchNormalization does not output what the backward needs (docs/design.md); instead the
/// node is tagged with <see cref="BatchStatisticsRule"/>, whose closed-form backward includes the gradient through the
/// batch statistics, so autodiff never differentiates the statistics op by op (about half the element-wise passes).
/// </summary>
public static class BatchNorm
{
    /// <summary>Gradient-rule key of the normalising node of <see cref="Training"/> (see Autodiff.Rules.BatchNormBatchStatisticsRule).</summary>
    public const string BatchStatisticsRule = "BatchNormalization.BatchStatistics";

    /// <summary>Gradient-rule key of <see cref="Shift"/>'s node: dx = dy, dshift = sum(dy) (Autodiff.Rules.ChannelShiftRule).</summary>
    public const string ShiftRule = "BatchNormalization.Shift";

    /// <summary>
    /// Normalises with the statistics of this batch over every axis but 1 (N,C or N,C,H,W), and returns
    /// running statistics updated as momentum * running + (1 - momentum) * batch (unbiased variance, as PyTorch).
    /// </summary>
    public static BatchNormTrainingResult Training(GraphBuilder g, Value x, Value scale, Value bias,
        Value runningMean, Value runningVar, float momentum, float epsilon)
    {
        if (x.Rank < 2) throw ShapeException.For("BatchNorm", "input must be N,C[,...]", x);
        long c = x.Shape[1];
        long[] axes = Enumerable.Range(0, x.Rank).Where(i => i != 1).Select(i => (long)i).ToArray();
        long count = axes.Aggregate(1L, (a, i) => a * x.Shape[i]);

        // The statistics are constants to autodiff: the tagged node's rule accounts for their dependence on x.
        var mean = g.StopGradient(g.ReduceMean(x, axes, keepDims: true));
        var centred = Shift(g, x, g.Neg(g.Reshape(mean, c)));
        // Biased variance. Not ReduceSumSquare: ORT's CPU kernel sums sequentially in float, and the closed-form backward
        // needs statistics consistent with the centred values (it cut the PyTorch-reference agreement 30x when tried).
        var variance = g.StopGradient(g.Reshape(g.ReduceMean(g.Mul(centred, centred), axes), c));
        var y = Normalise(g, centred, scale, bias, g.Zeros(x.Type, c), variance, epsilon, BatchStatisticsRule);

        var batchMean = g.Reshape(mean, c);
        var unbiased = g.Mul(variance, count / (float)Math.Max(1, count - 1));
        var newMean = g.Add(g.Mul(runningMean, momentum), g.Mul(batchMean, 1f - momentum));
        var newVar = g.Add(g.Mul(runningVar, momentum), g.Mul(unbiased, 1f - momentum));
        return new BatchNormTrainingResult(y, newMean, newVar);
    }

    /// <summary>
    /// Per-channel affine map x * a + b (a, b of shape [C]) as one fused inference-mode BatchNormalization with mean 0
    /// and var = 1 - eps in float, for which var + eps is exactly 1f, so the node computes x * a + b exactly. ORT's
    /// broadcasting Sub/Mul/Add with a [1,C,1,1] operand run several times slower than this kernel on the CPU.
    /// eps 1e-5 is cuDNN's minimum.
    /// </summary>
    public static Value ChannelAffine(GraphBuilder g, Value x, Value a, Value b, string? gradientRule = null)
    {
        const float eps = 1e-5f;
        const float oneMinusEps = 1f - eps; // float arithmetic: (1f - eps) + eps == 1f
        long c = x.Shape[1];
        return Normalise(g, x, a, b, g.Zeros(x.Type, c), g.Filled(x.Type, oneMinusEps, c), eps, gradientRule);
    }

    /// <summary>x + shift per channel (shift of shape [C]) as a <see cref="ChannelAffine"/> with scale 1.</summary>
    public static Value Shift(GraphBuilder g, Value x, Value shift) =>
        ChannelAffine(g, x, g.Filled(x.Type, 1.0, x.Shape[1]), shift, ShiftRule);

    // ORT's BatchNormalization wants rank >= 3 on some providers: lift N,C to N,C,1,1 and back.
    // gradientRule tags the BatchNormalization node itself (not the Reshape after it).
    private static Value Normalise(GraphBuilder g, Value x, Value scale, Value bias, Value mean, Value variance, float epsilon,
        string? gradientRule = null)
    {
        bool lift = x.Rank == 2;
        var input = lift ? g.Reshape(x, x.Shape[0], x.Shape[1], 1, 1) : x;
        var y = g.BatchNormInference(input, scale, bias, mean, variance, epsilon);
        if (gradientRule is not null) g.WithGradientRule(y, gradientRule);
        return lift ? g.Reshape(y, x.Shape.Select(d => d < 0 ? 0 : d).ToArray()) : y;
    }

    /// <summary>Evaluation mode: the running statistics (ONNX BatchNormalization).</summary>
    public static Value Inference(GraphBuilder g, Value x, Value scale, Value bias, Value runningMean, Value runningVar, float epsilon)
        => Normalise(g, x, scale, bias, runningMean, runningVar, epsilon);
}

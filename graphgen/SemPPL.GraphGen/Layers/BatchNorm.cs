using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Layers;

/// <summary>Outputs of a training-mode BatchNorm: the normalised tensor and the updated running statistics.</summary>
public sealed record BatchNormTrainingResult(Value Y, Value NewRunningMean, Value NewRunningVar);

/// <summary>
/// BatchNormalization as free functions. Training mode is decomposed into primitive ops
/// (ReduceMean/Sub/Mul/Sqrt/Div): ORT's training-mode BatchNormalization does not output what the
/// backward needs (DESIGN.md), and primitives let autodiff derive the exact batch-statistics gradient.
/// </summary>
public static class BatchNorm
{
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
        long[] paramShape = x.Shape.Select((d, i) => i == 1 ? c : 1L).ToArray();
        long count = axes.Aggregate(1L, (a, i) => a * x.Shape[i]);

        var mean = g.ReduceMean(x, axes, keepDims: true);
        var centred = g.Sub(x, mean);
        var variance = g.ReduceMean(g.Mul(centred, centred), axes, keepDims: true);
        var invStd = g.Reciprocal(g.Sqrt(g.Add(variance, epsilon)));
        var y = g.Add(g.Mul(g.Mul(centred, invStd), g.Reshape(scale, paramShape)), g.Reshape(bias, paramShape));

        var batchMean = g.StopGradient(g.Reshape(mean, c));
        var unbiased = g.StopGradient(g.Reshape(g.Mul(variance, count / (float)Math.Max(1, count - 1)), c));
        var newMean = g.Add(g.Mul(runningMean, momentum), g.Mul(batchMean, 1f - momentum));
        var newVar = g.Add(g.Mul(runningVar, momentum), g.Mul(unbiased, 1f - momentum));
        return new BatchNormTrainingResult(y, newMean, newVar);
    }

    /// <summary>Evaluation mode: the running statistics (ONNX BatchNormalization).</summary>
    public static Value Inference(GraphBuilder g, Value x, Value scale, Value bias, Value runningMean, Value runningVar, float epsilon)
    {
        if (x.Rank == 4) return g.BatchNormInference(x, scale, bias, runningMean, runningVar, epsilon);
        // ORT's BatchNormalization wants rank >= 3 on some providers: lift N,C to N,C,1,1.
        var y = g.BatchNormInference(g.Reshape(x, x.Shape.Concat(new long[] { 1, 1 }).ToArray()), scale, bias, runningMean, runningVar, epsilon);
        return g.Reshape(y, x.Shape.Select(d => d < 0 ? 0 : d).ToArray());
    }
}

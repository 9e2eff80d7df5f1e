using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Objective;

/// <summary>Softmax cross-entropy of the online linear classifier (labelled images only).</summary>
public static class ClassifierLoss
{
    /// <summary>
    /// <paramref name="logits"/> [B_l, K] float, <paramref name="labels"/> [B_l] int64 in [0, K).
    /// Loss = mean_i -log softmax(logits_i)[label_i] (LogSoftmax, one-hot selection: differentiable);
    /// Accuracy = mean_i [argmax logits_i == label_i] as a float scalar (not on any gradient path:
    /// ArgMax/Equal/Cast have no gradient rules, so never differentiate through it).
    /// </summary>
    public static (Value Loss, Value Accuracy) Build(GraphBuilder g, Value logits, Value labels)
    {
        if (logits.Rank != 2) throw ShapeException.For("ClassifierLoss", "logits must be [B, K]", logits);
        if (labels.Rank != 1 || labels.Type != DType.Int64 || labels.Shape[0] != logits.Shape[0])
            throw ShapeException.For("ClassifierLoss", "labels must be int64 [B] matching the logits' batch", logits, labels);
        return g.InScope("classifier.", () =>
        {
            long k = logits.Shape[1];
            var logProb = g.LogSoftmax(logits, -1);
            var oneHot = g.OneHot(labels, k, logits.Type);
            var picked = g.ReduceSum(g.Mul(logProb, oneHot), [1]);        // [B] log p(label)
            var loss = g.Mul(g.ReduceMean(picked), -1f);
            var hit = g.Cast(g.Equal(g.ArgMax(logits, 1), labels), logits.Type);
            var accuracy = g.ReduceMean(hit);
            return (loss, accuracy);
        });
    }
}

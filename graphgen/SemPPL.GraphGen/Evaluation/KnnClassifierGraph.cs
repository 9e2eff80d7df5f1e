using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Evaluation;

/// <summary>
/// Weighted k-NN classification (InstDisc/DINO style): cosine similarity of each query to the bank
/// of labelled embeddings, the k nearest vote for their label with weight exp(sim / T), and the
/// graph returns the top-5 (or fewer) classes per query.
/// Inputs: bank [Nb, F], bank_labels [Nb] int64, queries [Nq, F]; output: top_classes [Nq, min(5, K)] int64.
/// </summary>
public static class KnnClassifierGraph
{
    public static GraphBuilder Build(long bankSize, long queryCount, long featureDim, int k, int numClasses, float temperature)
    {
        var g = new GraphBuilder("semppl_knn");
        var bank = g.Input("bank", DType.Float, bankSize, featureDim);
        var bankLabels = g.Input("bank_labels", DType.Int64, bankSize);
        var queries = g.Input("queries", DType.Float, queryCount, featureDim);
        int kk = (int)Math.Min(k, bankSize);
        var sim = g.MatMul(Normalize(g, queries), g.Transpose(Normalize(g, bank), 1, 0)); // [Nq, Nb]
        var (values, indices) = g.TopK(sim, kk);
        var labels = g.Gather(bankLabels, indices);                                            // [Nq, k]
        var weights = g.Exp(g.Div(values, temperature));
        var votes = g.Mul(g.OneHot(labels, numClasses), g.Unsqueeze(weights, 2));             // [Nq, k, K]
        var scores = g.ReduceSum(votes, [1]);                                                  // [Nq, K]
        var (_, top) = g.TopK(scores, Math.Min(5, numClasses));
        g.Output(top, "top_classes");
        return g;
    }

    private static Value Normalize(GraphBuilder g, Value x) =>
        g.Div(x, g.Sqrt(g.Add(g.ReduceSum(g.Mul(x, x), [1], keepDims: true), 1e-12f)));
}

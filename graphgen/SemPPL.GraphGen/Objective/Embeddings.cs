using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Objective;

/// <summary>Embedding helpers shared by the online and target graphs.</summary>
public static class Embeddings
{
    /// <summary>
    /// L2 normalisation along <paramref name="axis"/>: y = x / sqrt(sum(x^2) + eps).
    /// The smooth "+ eps" form (rather than torch's x / max(||x||, eps)) keeps the op chain to
    /// Mul/ReduceSum/Add/Sqrt/Div, each with a gradient rule, and differs from x / ||x|| by a
    /// relative 0.5 * eps / ||x||^2 (negligible for eps = 1e-12 and non-degenerate x).
    /// </summary>
    public static Value L2Normalize(GraphBuilder g, Value x, long axis = -1, float eps = 1e-12f)
    {
        int a = Shapes.NormAxis(axis, x.Rank, "L2Normalize");
        var sumSq = g.ReduceSum(g.Mul(x, x), [a], keepDims: true);
        var norm = g.Sqrt(g.Add(sumSq, eps));
        return g.Div(x, norm);
    }
}

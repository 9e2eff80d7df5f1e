using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff;

/// <summary>Free functions shared by gradient rules.</summary>
public static class GradientMath
{
    /// <summary>Sums <paramref name="grad"/> over the axes that broadcasting expanded, then reshapes to <paramref name="shape"/>.</summary>
    public static Value ReduceToShape(GraphBuilder g, Value grad, long[] shape)
    {
        if (grad.Shape.SequenceEqual(shape)) return grad;
        int lead = grad.Rank - shape.Length;
        var axes = new List<long>();
        for (int i = 0; i < grad.Rank; i++)
        {
            int j = i - lead;
            if (j < 0 || (shape[j] == 1 && grad.Shape[i] != 1)) axes.Add(i);
        }
        var r = axes.Count > 0 ? g.ReduceSum(grad, axes.ToArray(), keepDims: true) : grad;
        return g.Reshape(r, shape.Length == 0 ? [] : shape);
    }
}

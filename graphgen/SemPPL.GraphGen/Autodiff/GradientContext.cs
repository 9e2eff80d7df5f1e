using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff;

/// <summary>What a gradient rule sees of one node during the reverse sweep.</summary>
public sealed class GradientContext
{
    private readonly Func<Value, Value?> _gradOf;
    private readonly Func<Value, bool> _needsGrad;
    private readonly Action<Value, Value> _accumulate;

    internal GradientContext(GraphBuilder graph, Node node, Func<Value, Value?> gradOf, Func<Value, bool> needsGrad, Action<Value, Value> accumulate)
    {
        G = graph;
        Node = node;
        _gradOf = gradOf;
        _needsGrad = needsGrad;
        _accumulate = accumulate;
    }

    public GraphBuilder G { get; }
    public Node Node { get; }

    public Value X(int i) => Node.Input(i);
    public Value Y(int i = 0) => Node.Outputs[i];

    /// <summary>Gradient of output i, or null when nothing downstream reaches the loss.</summary>
    public Value? OutputGrad(int i = 0) => _gradOf(Node.Outputs[i]);

    /// <summary>Gradient of output i, zeros when none flows (for rules of multi-output ops).</summary>
    public Value OutputGradOrZeros(int i) => OutputGrad(i) ?? G.Zeros(Y(i).Type, Y(i).Shape);

    /// <summary>Whether input i lies on a path from a differentiated value (skip building its backward if not).</summary>
    public bool NeedsGrad(int i) => i < Node.Inputs.Length && Node.Inputs[i] is { } v && _needsGrad(v);

    /// <summary>
    /// Adds a gradient contribution for input i. A gradient in the shape the input was broadcast to (an operand of
    /// Add, Mul, Where ...) is summed back to the input's shape here, so rules need not; any other shape is an error.
    /// </summary>
    public void AddGrad(int i, Value grad)
    {
        if (!NeedsGrad(i)) return;
        var x = X(i);
        if (!grad.Shape.SequenceEqual(x.Shape))
        {
            if (Shapes.TryBroadcast(x.Shape, grad.Shape) is not { } b || !b.SequenceEqual(grad.Shape))
                throw new ShapeException($"gradient rule for {Node}: gradient of input {i} ('{x.Name}') has shape {Shapes.Str(grad.Shape)}, expected {Shapes.Str(x.Shape)} or a shape it broadcasts to");
            grad = GradientMath.ReduceToShape(G, grad, x.Shape);
        }
        _accumulate(x, grad);
    }

    /// <summary>
    /// Sums a broadcast gradient back to <paramref name="shape"/> (the inverse of numpy broadcasting), for rules that
    /// must reduce before further math (MatMul's promoted vectors, Gemm's beta); <see cref="AddGrad"/> does it otherwise.
    /// </summary>
    public Value ReduceToShape(Value grad, long[] shape) => GradientMath.ReduceToShape(G, grad, shape);
}

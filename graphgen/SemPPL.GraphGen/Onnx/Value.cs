namespace SemPPL.GraphGen.Onnx;

/// <summary>
/// A tensor value of a graph under construction. Its element type and shape are known when it
/// is created (static shapes; -1 marks a dynamic dimension, used only by inference graphs).
/// </summary>
public sealed class Value
{
    internal Value(GraphBuilder graph, string name, DType type, long[] shape, Node? producer)
    {
        Graph = graph;
        Name = name;
        Type = type;
        Shape = shape;
        Producer = producer;
    }

    public GraphBuilder Graph { get; }
    public string Name { get; internal set; }
    public DType Type { get; }
    public long[] Shape { get; }
    /// <summary>The node that computes this value; null for graph inputs and initializers.</summary>
    public Node? Producer { get; internal set; }
    public int Rank => Shape.Length;
    public bool IsStatic => Shape.All(d => d >= 0);
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public long Dim(int axis) => Shape[axis < 0 ? axis + Rank : axis];

    public string Describe() => $"{Name}: {Type.ToString().ToLowerInvariant()}[{string.Join(",", Shape)}]";
    public override string ToString() => Describe();
}

using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Graphs;

/// <summary>One graph input or output: name, element type, static shape.</summary>
public sealed record TensorSpec(string Name, DType Type, long[] Shape)
{
    public override string ToString() => $"{Name}: {Type.ToString().ToLowerInvariant()}{Shapes.Str(Shape)}";
}

/// <summary>
/// A state tensor the graph reads and rewrites: the output <see cref="Output"/> replaces the input
/// <see cref="Input"/> for the next step. The trainer binds them to two buffers and alternates
/// (ping-pong); binding both to one buffer is wrong (docs/design.md).
/// </summary>
public readonly record struct StatePair(string Input, string Output);

/// <summary>A built graph with its contract: how the trainer binds each input and output.</summary>
public sealed record BuiltGraph(GraphBuilder Graph, GraphContract Contract)
{
    /// <summary>The state inputs and the outputs that replace them.</summary>
    public IReadOnlyList<StatePair> State => Contract.StatePairs;

    public IReadOnlyList<TensorSpec> Inputs { get; } = Graph.Inputs.Select(v => new TensorSpec(v.Name, v.Type, v.Shape)).ToArray();
    public IReadOnlyList<TensorSpec> Outputs { get; } = Graph.Outputs.Select(v => new TensorSpec(v.Name, v.Type, v.Shape)).ToArray();

    public TensorSpec Input(string name) => Inputs.FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException($"graph '{Graph.Name}' has no input '{name}'");
    public TensorSpec Output(string name) => Outputs.FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException($"graph '{Graph.Name}' has no output '{name}'");
}

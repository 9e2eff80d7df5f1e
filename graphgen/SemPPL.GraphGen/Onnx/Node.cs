namespace SemPPL.GraphGen.Onnx;

/// <summary>An ONNX node. Inputs may contain null for an omitted optional input.</summary>
public sealed class Node
{
    internal Node(string name, string opType, Value?[] inputs, Dictionary<string, Attr> attributes)
    {
        Name = name;
        OpType = opType;
        Inputs = inputs;
        Attributes = attributes;
    }

    public string Name { get; }
    public string OpType { get; }
    public string Domain { get; init; } = "";
    /// <summary>Where the node comes from when it was not written by graphgen itself (an imported model's node), for messages; null otherwise.</summary>
    public string? Origin { get; init; }
    public Value?[] Inputs { get; }
    public Value[] Outputs { get; internal set; } = [];
    public Dictionary<string, Attr> Attributes { get; }
    /// <summary>Autodiff treats this node's outputs as constants (stop_gradient).</summary>
    public bool StopsGradient { get; internal set; }
    /// <summary>
    /// Key of the gradient rule autodiff uses for this node instead of the rule for its op type (e.g. a BatchNormalization
    /// whose statistics are the batch's own, which has a closed-form backward); null = by op type.
    /// </summary>
    public string? GradientRule { get; internal set; }

    public Value Input(int i) => Inputs[i] ?? throw new InvalidOperationException($"{OpType} node '{Name}': input {i} is omitted");
    public Value? OptionalInput(int i) => i < Inputs.Length ? Inputs[i] : null;
    public long AttrInt(string name, long fallback) => Attributes.TryGetValue(name, out var a) ? a.I : fallback;
    public float AttrFloat(string name, float fallback) => Attributes.TryGetValue(name, out var a) ? a.F : fallback;
    public long[]? AttrInts(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;
    public string? AttrString(string name) => Attributes.TryGetValue(name, out var a) ? a.S : null;

    public override string ToString() => $"{OpType} '{Name}'";
}

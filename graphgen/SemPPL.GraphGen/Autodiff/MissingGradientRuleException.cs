namespace SemPPL.GraphGen.Autodiff;

/// <summary>
/// An op on the path to the loss has no gradient rule; names the op, the node (and the imported file's node it was made
/// from, when it came from one) and, for an op in <see cref="OpsWithoutGradient"/>, why.
/// </summary>
public sealed class MissingGradientRuleException(string opType, string nodeName, string lossName, string? origin = null)
    : Exception($"no gradient rule for op '{opType}' ({(origin is null ? "" : origin + ", ")}graph node '{nodeName}') on the path to loss '{lossName}'; " +
                (OpsWithoutGradient.Reasons.TryGetValue(opType, out var why)
                    ? $"it has none by design ({why}): stop the gradient before this node"
                    : "add one under graphgen/SemPPL.GraphGen/Autodiff/Rules or stop the gradient before this node"))
{
    public string OpType { get; } = opType;
    public string NodeName { get; } = nodeName;
    /// <summary>The imported model's node the graph node was made from (<see cref="Onnx.Node.Origin"/>), or null.</summary>
    public string? Origin { get; } = origin;
}

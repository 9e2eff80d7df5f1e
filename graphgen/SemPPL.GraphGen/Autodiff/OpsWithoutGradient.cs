namespace SemPPL.GraphGen.Autodiff;

/// <summary>
/// The op types that GraphBuilder or the ONNX importer can emit and that deliberately have no gradient rule, each with
/// the reason. Every other op they can emit has a rule (a test checks both, and that docs/autodiff.md lists the same).
/// On the path to a loss such an op throws <see cref="MissingGradientRuleException"/> with its reason; stop the
/// gradient before it instead.
/// </summary>
public static class OpsWithoutGradient
{
    private const string Boolean = "boolean output";
    private const string NotDifferentiated = "not implemented: graphgen builds it only where nothing is differentiated";

    public static IReadOnlyDictionary<string, string> Reasons { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["And"] = Boolean,
        ["Or"] = Boolean,
        ["Not"] = Boolean,
        ["Equal"] = Boolean,
        ["Greater"] = Boolean,
        ["GreaterOrEqual"] = Boolean,
        ["Less"] = Boolean,
        ["LessOrEqual"] = Boolean,
        ["ArgMax"] = "integer output (indices)",
        ["OneHot"] = "its input is integer indices",
        ["ConstantOfShape"] = "no tensor input (the shape is a constant)",
        ["Sign"] = "piecewise constant (derivative 0 almost everywhere); Abs's rule uses it",
        ["Floor"] = "piecewise constant (derivative 0 almost everywhere); used on sample positions",
        ["Mod"] = "used on integer queue positions",
        ["TopK"] = "not implemented: used for k-NN votes on stop-gradient embeddings",
        ["CumSum"] = NotDifferentiated + " (pseudo-label sampling)",
        ["ReduceMin"] = "not implemented: no graph differentiates through a minimum",
        ["ScatterElements"] = NotDifferentiated + " (gradient rules, pseudo-label sampling)",
        ["ScatterND"] = NotDifferentiated + " (gradient rules, queue update)",
        ["ConvTranspose"] = NotDifferentiated + " (the Conv and AveragePool gradients)",
    };

    public static bool Contains(string opType) => Reasons.ContainsKey(opType);
}

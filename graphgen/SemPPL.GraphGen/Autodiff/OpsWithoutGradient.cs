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
    private const string Indices = "works on integer indices";
    private const string PiecewiseConstant = "piecewise constant: derivative 0 almost everywhere";
    private const string NotImplemented = "not implemented: no graph graphgen builds differentiates through it";

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
        ["ArgMax"] = Indices,
        ["OneHot"] = Indices,
        ["Mod"] = Indices,      // queue positions
        ["ConstantOfShape"] = "no tensor input",
        ["Sign"] = PiecewiseConstant,
        ["Floor"] = PiecewiseConstant,
        ["TopK"] = NotImplemented,            // k-NN votes on stop-gradient embeddings
        ["CumSum"] = NotImplemented,          // pseudo-label sampling
        ["ReduceMin"] = NotImplemented,
        ["ScatterElements"] = NotImplemented, // gradient rules, pseudo-label sampling
        ["ScatterND"] = NotImplemented,       // gradient rules, queue update
        ["ConvTranspose"] = NotImplemented,   // the Conv and AveragePool gradients
    };

    public static bool Contains(string opType) => Reasons.ContainsKey(opType);
}

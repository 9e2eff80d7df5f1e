using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// The element-wise derivatives as one table (in the spirit of PyTorch's derivatives.yaml): each row is an op and the
/// gradient of each of its inputs, written with the output gradient dy, the inputs x0, x1, .. and the output y.
/// A null entry, or an input past the last entry, gets no gradient. Only the entries of inputs that need a gradient
/// are built. An entry may keep the output's broadcast shape: <see cref="GradientContext.AddGrad"/> sums it back.
/// Rules that need more than this (attributes, constant folding, several outputs) are classes in the other files.
/// </summary>
public static class ElementwiseRules
{
    public static IReadOnlyList<ElementwiseRule> Table { get; } =
    [
        //  op               d input 0                              d input 1                     d input 2
        new("Identity",   d => d.Dy),                            // stop-gradient Identities are skipped before rules run
        new("Neg",        d => -d.Dy),
        new("Exp",        d => d.Dy * d.Y),
        new("Log",        d => d.Dy / d.X0),
        new("Sqrt",       d => d.Dy * 0.5f / d.Y),
        new("Reciprocal", d => -(d.Dy * (d.Y * d.Y))),
        new("Sigmoid",    d => d.Dy * d.Y * (1f - d.Y)),
        new("Tanh",       d => d.Dy * (1f - d.Y * d.Y)),
        new("Abs",        d => d.Dy * d.Sign(d.X0)),             // 0 at x = 0, the subgradient PyTorch also uses
        new("Relu",       d => d.Where(d.X0 > 0f, d.Dy, 0f)),
        new("Cast",       d => d.X0.Type.IsFloating() && d.Y.Type.IsFloating() ? d.CastTo(d.Dy, d.X0) : null),
        new("Expand",     d => d.Dy),                            // the copies are summed back by AddGrad
        new("Add",        d => d.Dy,                             d => d.Dy),
        new("Sub",        d => d.Dy,                             d => -d.Dy),
        new("Mul",        d => d.Dy * d.X1,                      d => d.Dy * d.X0),
        new("Div",        d => d.Dy / d.X1,                      d => -(d.Dx0 * d.Y)),        // -dy a / b^2 = -(dy / b) y
        new("Where",      null,                                  d => d.Where(d.X0, d.Dy, 0f), d => d.Where(d.X0, 0f, d.Dy)),
        ElementwiseRule.SameForEveryInput("Sum", d => d.Dy),
    ];
}

/// <summary>One row of <see cref="ElementwiseRules.Table"/>: an op and the derivative of each input.</summary>
public sealed class ElementwiseRule : IGradientRule
{
    private readonly Func<ElementwiseOperands, Value?>?[] _inputs;
    private readonly bool _sameForEveryInput;

    public ElementwiseRule(string op, params Func<ElementwiseOperands, Value?>?[] inputs)
        : this(op, inputs, sameForEveryInput: false) { }

    private ElementwiseRule(string op, Func<ElementwiseOperands, Value?>?[] inputs, bool sameForEveryInput)
    {
        Op = op;
        _inputs = inputs;
        _sameForEveryInput = sameForEveryInput;
    }

    /// <summary>A variadic op whose every input has the same derivative (Sum).</summary>
    public static ElementwiseRule SameForEveryInput(string op, Func<ElementwiseOperands, Value?> input) => new(op, [input], sameForEveryInput: true);

    public string Op { get; }

    public IReadOnlyList<string> OpTypes => [Op];

    internal Func<ElementwiseOperands, Value?>? Derivative(int input) =>
        _sameForEveryInput ? _inputs[0] : input < _inputs.Length ? _inputs[input] : null;

    public void Backward(GradientContext ctx)
    {
        var d = new ElementwiseOperands(ctx, this);
        for (int i = 0; i < ctx.Node.Inputs.Length; i++)
            if (ctx.NeedsGrad(i) && d.Dx(i) is { } grad) ctx.AddGrad(i, grad);
    }
}

/// <summary>What a row of the element-wise table reads: dy, the inputs, the output, and the other rows' results.</summary>
public sealed class ElementwiseOperands
{
    private readonly GradientContext _ctx;
    private readonly ElementwiseRule _rule;
    private readonly Dictionary<int, Value?> _built = [];

    internal ElementwiseOperands(GradientContext ctx, ElementwiseRule rule)
    {
        _ctx = ctx;
        _rule = rule;
    }

    public Term Dy => new(_ctx.OutputGrad()!);
    public Term Y => new(_ctx.Y());
    public Term X0 => new(_ctx.X(0));
    public Term X1 => new(_ctx.X(1));

    /// <summary>Input 0's gradient as its row entry builds it (before broadcast reduction), built once.</summary>
    public Term Dx0 => new(Dx(0) ?? throw new InvalidOperationException($"{_ctx.Node}: input 0 has no derivative in the table"));

    internal Value? Dx(int i)
    {
        if (!_built.TryGetValue(i, out var v)) _built[i] = v = _rule.Derivative(i)?.Invoke(this);
        return v;
    }

    public Term Sign(Term x) => new(x.G.Sign(x));
    public Value CastTo(Term x, Term like) => x.G.Cast(x, like.Type);
    public Term Where(Term condition, Term whenTrue, float whenFalse) => new(condition.G.Where(condition, whenTrue, whenTrue.Scalar(whenFalse)));
    public Term Where(Term condition, float whenTrue, Term whenFalse) => new(condition.G.Where(condition, whenFalse.Scalar(whenTrue), whenFalse));
}

/// <summary>A value in a table row: the operators add Mul, Div, Sub, Neg, Greater nodes to its graph.</summary>
public readonly record struct Term(Value Value)
{
    internal GraphBuilder G => Value.Graph;
    public DType Type => Value.Type;

    /// <summary>A scalar constant of this value's element type.</summary>
    internal Value Scalar(float v) => G.Scalar(v, Value.Type);

    public static implicit operator Value(Term t) => t.Value;

    public static Term operator -(Term a) => new(a.G.Neg(a));
    public static Term operator *(Term a, Term b) => new(a.G.Mul(a, b));
    public static Term operator /(Term a, Term b) => new(a.G.Div(a, b));
    public static Term operator -(Term a, Term b) => new(a.G.Sub(a, b));
    public static Term operator *(Term a, float b) => new(a.G.Mul(a, b));
    public static Term operator -(float a, Term b) => new(b.G.Sub(b.Scalar(a), b));
    public static Term operator >(Term a, float b) => new(a.G.Greater(a, a.Scalar(b)));
    public static Term operator <(Term a, float b) => new(a.G.Less(a, a.Scalar(b)));
}

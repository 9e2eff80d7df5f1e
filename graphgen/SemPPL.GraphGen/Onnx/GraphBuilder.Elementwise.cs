namespace SemPPL.GraphGen.Onnx;

// Elementwise ops: unary, binary with numpy broadcasting, comparisons, Where, Clip, Cast.
public sealed partial class GraphBuilder
{
    private Value Unary(string op, Value x, Dictionary<string, Attr>? attrs = null) => AddNode1(op, [x], x.Type, x.Shape, attrs);

    public Value Relu(Value x) => Unary("Relu", x);
    public Value Sigmoid(Value x) => Unary("Sigmoid", x);
    public Value Tanh(Value x) => Unary("Tanh", x);
    public Value Neg(Value x) => Unary("Neg", x);
    public Value Exp(Value x) => Unary("Exp", x);
    public Value Log(Value x) => Unary("Log", x);
    public Value Sqrt(Value x) => Unary("Sqrt", x);
    public Value Abs(Value x) => Unary("Abs", x);
    public Value Sign(Value x) => Unary("Sign", x);
    public Value Reciprocal(Value x) => Unary("Reciprocal", x);
    public Value Floor(Value x) => Unary("Floor", x);
    public Value Identity(Value x, string? name = null)
    {
        var y = Unary("Identity", x);
        if (name is not null) Rename(y, name);
        return y;
    }

    /// <summary>Identity whose output autodiff treats as a constant.</summary>
    public Value StopGradient(Value x)
    {
        var y = Unary("Identity", x);
        y.Producer!.StopsGradient = true;
        return y;
    }

    /// <summary>Makes autodiff differentiate the producer of <paramref name="y"/> with the rule registered under <paramref name="rule"/>.</summary>
    public Value WithGradientRule(Value y, string rule)
    {
        if (y.Producer is null) throw new ArgumentException($"'{y.Name}' has no producing node");
        y.Producer.GradientRule = rule;
        return y;
    }

    public Value Not(Value x)
    {
        if (x.Type != DType.Bool) throw ShapeException.For("Not", "input must be bool", x);
        return Unary("Not", x);
    }

    private void Rename(Value v, string name)
    {
        Claim(name);
        _names.Remove(v.Name);
        v.Name = name;
    }

    private Value Binary(string op, Value a, Value b, DType? outType = null)
    {
        if (a.Type != b.Type) throw ShapeException.For(op, "element types differ", a, b);
        var shape = Shapes.TryBroadcast(a.Shape, b.Shape) ?? throw ShapeException.For(op, "shapes do not broadcast", a, b);
        return AddNode1(op, [a, b], outType ?? a.Type, shape);
    }

    public Value Add(Value a, Value b) => Binary("Add", a, b);
    public Value Sub(Value a, Value b) => Binary("Sub", a, b);
    public Value Mul(Value a, Value b) => Binary("Mul", a, b);
    public Value Div(Value a, Value b) => Binary("Div", a, b);
    public Value Max(Value a, Value b) => Binary("Max", a, b);
    public Value Min(Value a, Value b) => Binary("Min", a, b);
    public Value Pow(Value a, Value b)
    {
        var shape = Shapes.TryBroadcast(a.Shape, b.Shape) ?? throw ShapeException.For("Pow", "shapes do not broadcast", a, b);
        return AddNode1("Pow", [a, b], a.Type, shape);
    }
    public Value Equal(Value a, Value b) => Binary("Equal", a, b, DType.Bool);
    public Value Greater(Value a, Value b) => Binary("Greater", a, b, DType.Bool);
    public Value Less(Value a, Value b) => Binary("Less", a, b, DType.Bool);
    public Value GreaterOrEqual(Value a, Value b) => Binary("GreaterOrEqual", a, b, DType.Bool);
    public Value LessOrEqual(Value a, Value b) => Binary("LessOrEqual", a, b, DType.Bool);
    public Value And(Value a, Value b) => Binary("And", a, b, DType.Bool);
    public Value Or(Value a, Value b) => Binary("Or", a, b, DType.Bool);

    /// <summary>Sum of any number of same-typed values (gradient accumulation).</summary>
    public Value Sum(IReadOnlyList<Value> xs)
    {
        if (xs.Count == 0) throw new ArgumentException("Sum needs at least one input");
        if (xs.Count == 1) return xs[0];
        long[] shape = xs[0].Shape;
        foreach (var x in xs.Skip(1))
        {
            if (x.Type != xs[0].Type) throw ShapeException.For("Sum", "element types differ", xs.ToArray());
            shape = Shapes.TryBroadcast(shape, x.Shape) ?? throw ShapeException.For("Sum", "shapes do not broadcast", xs.ToArray());
        }
        return AddNode1("Sum", xs.ToArray(), xs[0].Type, shape);
    }

    public Value Where(Value cond, Value x, Value y)
    {
        if (cond.Type != DType.Bool) throw ShapeException.For("Where", "condition must be bool", cond);
        if (x.Type != y.Type) throw ShapeException.For("Where", "branch types differ", x, y);
        var s = Shapes.TryBroadcast(cond.Shape, x.Shape) is { } s1 ? Shapes.TryBroadcast(s1, y.Shape) : null;
        if (s is null) throw ShapeException.For("Where", "shapes do not broadcast", cond, x, y);
        return AddNode1("Where", [cond, x, y], x.Type, s);
    }

    public Value Clip(Value x, Value? min, Value? max)
    {
        foreach (var b in new[] { min, max })
            if (b is not null && (b.Rank != 0 || b.Type != x.Type)) throw ShapeException.For("Clip", "min/max must be scalars of the input's type", x, b);
        return AddNode1("Clip", [x, min, max], x.Type, x.Shape);
    }

    public Value Clip(Value x, float? min, float? max) =>
        Clip(x, min is null ? null : Scalar(min.Value, x.Type), max is null ? null : Scalar(max.Value, x.Type));

    public Value Cast(Value x, DType to) =>
        x.Type == to ? x : AddNode1("Cast", [x], to, x.Shape, new() { ["to"] = Attr.Int((long)to) });

    // Scalar conveniences used by losses and optimizers.
    public Value Add(Value a, float b) => Add(a, Scalar(b, a.Type));
    public Value Mul(Value a, float b) => Mul(a, Scalar(b, a.Type));
    public Value Sub(Value a, float b) => Sub(a, Scalar(b, a.Type));
    public Value Div(Value a, float b) => Div(a, Scalar(b, a.Type));
}

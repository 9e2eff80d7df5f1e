namespace SemPPL.GraphGen.Onnx;

// Ops used by the between-step graphs (queue, pseudo-labels): integer Mod. (ScatterND lives in GraphBuilder.Shape.cs.)
public sealed partial class GraphBuilder
{
    /// <summary>Elementwise remainder. Integer inputs use fmod = 0 (sign of the divisor, Python semantics); floats need fmod = 1.</summary>
    public Value Mod(Value a, Value b)
    {
        if (a.Type != b.Type) throw ShapeException.For("Mod", "element types differ", a, b);
        var shape = Shapes.TryBroadcast(a.Shape, b.Shape) ?? throw ShapeException.For("Mod", "shapes do not broadcast", a, b);
        var attrs = new Dictionary<string, Attr>();
        if (a.Type.IsFloating()) attrs["fmod"] = Attr.Int(1);
        return AddNode1("Mod", [a, b], a.Type, shape, attrs);
    }
}

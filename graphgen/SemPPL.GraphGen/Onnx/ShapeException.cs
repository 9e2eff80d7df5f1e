namespace SemPPL.GraphGen.Onnx;

/// <summary>A shape or type error found while building a graph: names the op and the shapes involved.</summary>
public sealed class ShapeException(string message) : Exception(message)
{
    public static ShapeException For(string op, string what, params Value[] values) =>
        new($"{op}: {what} (inputs: {string.Join(", ", values.Select(v => v.Describe()))})");
}

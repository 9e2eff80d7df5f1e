using Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>A node's attributes as a lowering reads them: the value, or the fallback when the attribute is absent.</summary>
internal static class NodeAttributes
{
    public static long Int(NodeProto n, string name, long fallback) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    public static string Str(NodeProto n, string name, string fallback) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.S.ToStringUtf8() : fallback;

    public static long[]? Ints(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.Ints.ToArray() : null;
}

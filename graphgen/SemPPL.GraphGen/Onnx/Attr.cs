using Google.Protobuf;
using Onnx;

namespace SemPPL.GraphGen.Onnx;

/// <summary>An ONNX node attribute value.</summary>
public sealed class Attr
{
    private Attr(AttributeProto.Types.AttributeType kind) => Kind = kind;

    public AttributeProto.Types.AttributeType Kind { get; }
    public long I { get; private init; }
    public float F { get; private init; }
    public long[] Ints { get; private init; } = [];
    public float[] Floats { get; private init; } = [];
    public string S { get; private init; } = "";
    public HostTensor? T { get; private init; }

    public static Attr Int(long v) => new(AttributeProto.Types.AttributeType.Int) { I = v };
    public static Attr Float(float v) => new(AttributeProto.Types.AttributeType.Float) { F = v };
    public static Attr IntList(params long[] v) => new(AttributeProto.Types.AttributeType.Ints) { Ints = v };
    public static Attr FloatList(params float[] v) => new(AttributeProto.Types.AttributeType.Floats) { Floats = v };
    public static Attr Str(string v) => new(AttributeProto.Types.AttributeType.String) { S = v };
    public static Attr Tensor(HostTensor v) => new(AttributeProto.Types.AttributeType.Tensor) { T = v };

    internal AttributeProto ToProto(string name)
    {
        var p = new AttributeProto { Name = name, Type = Kind };
        switch (Kind)
        {
            case AttributeProto.Types.AttributeType.Int: p.I = I; break;
            case AttributeProto.Types.AttributeType.Float: p.F = F; break;
            case AttributeProto.Types.AttributeType.Ints: p.Ints.AddRange(Ints); break;
            case AttributeProto.Types.AttributeType.Floats: p.Floats.AddRange(Floats); break;
            case AttributeProto.Types.AttributeType.String: p.S = ByteString.CopyFromUtf8(S); break;
            case AttributeProto.Types.AttributeType.Tensor: p.T = T!.ToProto(""); break;
            default: throw new NotSupportedException($"attribute kind {Kind}");
        }
        return p;
    }

    internal static Attr FromProto(AttributeProto p) => p.Type switch
    {
        AttributeProto.Types.AttributeType.Int => Int(p.I),
        AttributeProto.Types.AttributeType.Float => Float(p.F),
        AttributeProto.Types.AttributeType.Ints => IntList(p.Ints.ToArray()),
        AttributeProto.Types.AttributeType.Floats => FloatList(p.Floats.ToArray()),
        AttributeProto.Types.AttributeType.String => Str(p.S.ToStringUtf8()),
        AttributeProto.Types.AttributeType.Tensor => Tensor(HostTensor.FromProto(p.T)),
        _ => throw new NotSupportedException($"attribute '{p.Name}' of kind {p.Type} is not supported"),
    };
}

namespace SemPPL.GraphGen.Onnx;

/// <summary>ONNX tensor element types used by our graphs; values equal TensorProto.DataType.</summary>
public enum DType
{
    Float = 1,
    UInt8 = 2,
    Int32 = 6,
    Int64 = 7,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    BFloat16 = 16,
}

public static class DTypeExtensions
{
    public static bool IsFloating(this DType t) => t is DType.Float or DType.Double or DType.Float16 or DType.BFloat16;

    public static int ByteSize(this DType t) => t switch
    {
        DType.Float or DType.Int32 => 4,
        DType.Int64 or DType.Double => 8,
        DType.Float16 or DType.BFloat16 => 2,
        DType.Bool or DType.UInt8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };
}

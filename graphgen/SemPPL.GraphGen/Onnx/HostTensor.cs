using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace SemPPL.GraphGen.Onnx;

/// <summary>A tensor held on the host: constants, initial weights, test data.</summary>
public sealed class HostTensor
{
    private HostTensor(DType type, long[] shape, Array data)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        if (data.Length != n)
            throw new ArgumentException($"tensor of shape [{string.Join(",", shape)}] needs {n} elements, got {data.Length}");
        Type = type;
        Shape = shape;
        Data = data;
    }

    public DType Type { get; }
    public long[] Shape { get; }
    public Array Data { get; }
    public long ElementCount => Data.Length;

    public float[] Floats => (float[])Data;
    public double[] Doubles => (double[])Data;
    public long[] Longs => (long[])Data;
    public int[] Ints => (int[])Data;
    public bool[] Bools => (bool[])Data;

    public static HostTensor Float(long[] shape, float[] data) => new(DType.Float, shape, data);
    public static HostTensor Double(long[] shape, double[] data) => new(DType.Double, shape, data);
    public static HostTensor Int64(long[] shape, long[] data) => new(DType.Int64, shape, data);
    public static HostTensor Int32(long[] shape, int[] data) => new(DType.Int32, shape, data);
    public static HostTensor Bool(long[] shape, bool[] data) => new(DType.Bool, shape, data);
    public static HostTensor Scalar(float v) => Float([], [v]);
    public static HostTensor Vector(params long[] v) => Int64([v.Length], v);

    /// <summary>A filled tensor of the given type (float/double/int64/int32/bool).</summary>
    public static HostTensor Filled(DType type, long[] shape, double value)
    {
        int n = checked((int)shape.Aggregate(1L, (a, d) => a * d));
        return type switch
        {
            DType.Float => Float(shape, Enumerable.Repeat((float)value, n).ToArray()),
            DType.Double => Double(shape, Enumerable.Repeat(value, n).ToArray()),
            DType.Int64 => Int64(shape, Enumerable.Repeat((long)value, n).ToArray()),
            DType.Int32 => Int32(shape, Enumerable.Repeat((int)value, n).ToArray()),
            DType.Bool => Bool(shape, Enumerable.Repeat(value != 0, n).ToArray()),
            _ => throw new NotSupportedException($"filled tensor of {type}"),
        };
    }

    /// <summary>Little-endian raw bytes, as ONNX stores them.</summary>
    public byte[] ToBytes()
    {
        if (Type == DType.Bool)
            return Bools.Select(b => b ? (byte)1 : (byte)0).ToArray();
        var bytes = new byte[Data.Length * Type.ByteSize()];
        Buffer.BlockCopy(Data, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    public TensorProto ToProto(string name)
    {
        var p = new TensorProto { Name = name, DataType = (int)Type, RawData = ByteString.CopyFrom(ToBytes()) };
        p.Dims.AddRange(Shape);
        return p;
    }

    public static HostTensor FromProto(TensorProto p, string? externalDataFolder = null)
    {
        var type = (DType)p.DataType;
        long[] shape = p.Dims.ToArray();
        int n = checked((int)shape.Aggregate(1L, (a, d) => a * d));
        byte[]? raw = p.RawData.Length > 0 ? p.RawData.ToByteArray() : null;
        if (raw is null && p.DataLocation == TensorProto.Types.DataLocation.External)
            raw = ReadExternal(p, externalDataFolder ?? ".");
        if (raw is not null)
            return FromBytes(type, shape, raw);
        return type switch
        {
            DType.Float => Float(shape, p.FloatData.Count == n ? p.FloatData.ToArray() : new float[n]),
            DType.Double => Double(shape, p.DoubleData.Count == n ? p.DoubleData.ToArray() : new double[n]),
            DType.Int64 => Int64(shape, p.Int64Data.Count == n ? p.Int64Data.ToArray() : new long[n]),
            DType.Int32 => Int32(shape, p.Int32Data.Count == n ? p.Int32Data.ToArray() : new int[n]),
            DType.Bool => Bool(shape, p.Int32Data.Count == n ? p.Int32Data.Select(v => v != 0).ToArray() : new bool[n]),
            _ => throw new NotSupportedException($"initializer '{p.Name}' has element type {p.DataType}, which is not supported"),
        };
    }

    public static HostTensor FromBytes(DType type, long[] shape, byte[] raw)
    {
        int n = checked((int)shape.Aggregate(1L, (a, d) => a * d));
        Array data = type switch
        {
            DType.Float => new float[n],
            DType.Double => new double[n],
            DType.Int64 => new long[n],
            DType.Int32 => new int[n],
            DType.Bool => raw.Take(n).Select(b => b != 0).ToArray(),
            _ => throw new NotSupportedException($"element type {type}"),
        };
        if (type != DType.Bool)
            Buffer.BlockCopy(raw, 0, data, 0, n * type.ByteSize());
        return new HostTensor(type, shape, data);
    }

    private static byte[] ReadExternal(TensorProto p, string folder)
    {
        string? location = null; long offset = 0, length = -1;
        foreach (var e in p.ExternalData)
        {
            if (e.Key == "location") location = e.Value;
            else if (e.Key == "offset") offset = long.Parse(e.Value);
            else if (e.Key == "length") length = long.Parse(e.Value);
        }
        if (location is null) throw new InvalidDataException($"initializer '{p.Name}' has external data without a location");
        using var f = File.OpenRead(Path.Combine(folder, location));
        f.Seek(offset, SeekOrigin.Begin);
        var buf = new byte[length >= 0 ? length : f.Length - offset];
        f.ReadExactly(buf);
        return buf;
    }

    /// <summary>Element i as double, whatever the element type (for tests and diagnostics).</summary>
    public double GetDouble(long i) => Type switch
    {
        DType.Float => Floats[i],
        DType.Double => Doubles[i],
        DType.Int64 => Longs[i],
        DType.Int32 => Ints[i],
        DType.Bool => Bools[i] ? 1 : 0,
        _ => throw new NotSupportedException(Type.ToString()),
    };

    internal string ContentKey()
    {
        var h = System.Security.Cryptography.SHA256.HashData(ToBytes());
        return $"{Type}|{string.Join(",", Shape)}|{Convert.ToHexString(h)}";
    }
}

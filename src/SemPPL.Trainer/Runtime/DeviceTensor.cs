using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Owner of one tensor <see cref="OrtValue"/> allocated once, with a fixed element type and shape.
/// <list type="bullet">
/// <item><see cref="Allocate"/>: on the factory's device (CUDA memory through the CUDA allocator of a
/// session, or CPU memory on the CPU). Parameters, optimizer state, the queue, gradients, outputs.</item>
/// <item><see cref="AllocateHost"/>: always CPU memory. Staging tensors for per-step inputs (batches,
/// host-fed uniforms, learning rate): fill <see cref="HostSpan{T}"/> and bind the tensor directly as a graph
/// input; ONNX Runtime copies it to the device during the run, with no allocation of ours.</item>
/// </list>
/// <see cref="Upload(HostTensor)"/>/<see cref="Download"/> move whole tensors between the host and the
/// device (initial weights, checkpoints); on CUDA they run a copy graph and allocate, so keep them off the
/// hot path. Disposing releases the memory; dispose every tensor before its <see cref="SessionFactory"/>.
/// </summary>
public sealed class DeviceTensor : IDisposable
{
    private readonly SessionFactory _factory;
    private OrtValue? _value;

    private DeviceTensor(SessionFactory factory, string name, DType type, long[] shape, OrtValue value, bool onDevice)
    {
        _factory = factory;
        Name = name;
        Type = type;
        Shape = shape;
        _value = value;
        IsOnDevice = onDevice;
        ElementCount = shape.Aggregate(1L, (a, d) => a * d);
        ByteSize = ElementCount * type.ByteSize();
    }

    public string Name { get; }
    public DType Type { get; }
    public long[] Shape { get; }
    public long ElementCount { get; }
    public long ByteSize { get; }

    /// <summary>True when the memory is CUDA memory (not readable from C#).</summary>
    public bool IsOnDevice { get; }

    /// <summary>The OrtValue to bind. Stays the same object (and native handle) for the tensor's lifetime.</summary>
    public OrtValue Value => _value ?? throw new ObjectDisposedException($"device tensor '{Name}'");

    public string ShapeText => Describe(Type, Shape);

    /// <summary>A tensor on the factory's device (uninitialised memory).</summary>
    public static DeviceTensor Allocate(SessionFactory factory, string name, DType type, params long[] shape)
    {
        CheckShape(name, shape);
        var allocator = factory.IsCuda ? factory.Copier.Allocator : OrtAllocator.DefaultInstance;
        var v = OrtValue.CreateAllocatedTensorValue(allocator, ToOrt(type), (long[])shape.Clone());
        return new DeviceTensor(factory, name, type, (long[])shape.Clone(), v, factory.IsCuda);
    }

    /// <summary>
    /// A tensor over memory another tensor owns, at <paramref name="data"/> on the factory's device (a slice of one flat
    /// buffer): disposing the view leaves the memory alone, so the owner must outlive it.
    /// </summary>
    public static DeviceTensor View(SessionFactory factory, string name, DType type, long[] shape, nint data)
    {
        CheckShape(name, shape);
        long bytes = shape.Aggregate(1L, (a, d) => a * d) * type.ByteSize();
        var v = OrtValue.CreateTensorValueWithData(factory.DeviceMemoryInfo, ToOrt(type), (long[])shape.Clone(), data, bytes);
        return new DeviceTensor(factory, name, type, (long[])shape.Clone(), v, factory.IsCuda);
    }

    /// <summary>The address of the tensor's memory (device memory on CUDA: pass it on, never read it from C#).</summary>
    public unsafe nint DataPointer => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(Value.GetTensorMutableRawData()));

    /// <summary>A tensor in CPU memory, whatever the device: a staging buffer for per-step inputs.</summary>
    public static DeviceTensor AllocateHost(SessionFactory factory, string name, DType type, params long[] shape)
    {
        CheckShape(name, shape);
        var v = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, ToOrt(type), (long[])shape.Clone());
        return new DeviceTensor(factory, name, type, (long[])shape.Clone(), v, onDevice: false);
    }

    /// <summary>A device tensor holding a copy of <paramref name="host"/>.</summary>
    public static DeviceTensor FromHost(SessionFactory factory, string name, HostTensor host)
    {
        var t = Allocate(factory, name, host.Type, host.Shape);
        try { t.Upload(host); }
        catch { t.Dispose(); throw; }
        return t;
    }

    /// <summary>The memory as a span of T; only for host memory (<see cref="IsOnDevice"/> false).</summary>
    public Span<T> HostSpan<T>() where T : unmanaged
    {
        if (IsOnDevice)
            throw new InvalidOperationException($"tensor '{Name}' is in CUDA memory; use Upload/Download, or a host staging tensor (AllocateHost)");
        return Value.GetTensorMutableDataAsSpan<T>();
    }

    /// <summary>Copies a host tensor of the same element type and shape into this tensor.</summary>
    public void Upload(HostTensor host)
    {
        if (host.Type != Type || !host.Shape.SequenceEqual(Shape))
            throw new ArgumentException($"cannot upload {Describe(host.Type, host.Shape)} into tensor '{Name}' of {ShapeText}");
        if (!IsOnDevice)
        {
            HostBytes(host.Data, host.Type).CopyTo(Value.GetTensorMutableRawData());
            return;
        }
        using var src = WrapHost(host.Data, host.Type, Shape);
        _factory.Copier.Copy(src, Value, Type);
    }

    /// <summary>Copies a span of elements (count = <see cref="ElementCount"/>) into this tensor.</summary>
    public void Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        CheckElement<T>();
        if (data.Length != ElementCount)
            throw new ArgumentException($"cannot upload {data.Length} elements into tensor '{Name}' of {ShapeText}");
        if (!IsOnDevice)
        {
            data.CopyTo(Value.GetTensorMutableDataAsSpan<T>());
            return;
        }
        var array = data.ToArray();
        using var src = OrtValue.CreateTensorValueFromMemory(array, Shape);
        _factory.Copier.Copy(src, Value, Type);
    }

    /// <summary>Copies the tensor to a new host tensor.</summary>
    public HostTensor Download()
    {
        int n = checked((int)ElementCount);
        Array data = Type switch
        {
            DType.Float => new float[n],
            DType.Double => new double[n],
            DType.Int64 => new long[n],
            DType.Int32 => new int[n],
            DType.Bool => new bool[n],
            _ => throw new NotSupportedException($"tensor '{Name}': element type {Type} has no host tensor"),
        };
        if (!IsOnDevice)
        {
            Value.GetTensorMutableRawData().CopyTo(HostBytes(data, Type));
        }
        else
        {
            using var dst = WrapHost(data, Type, Shape);
            _factory.Copier.Copy(Value, dst, Type);
        }
        return Type switch
        {
            DType.Float => HostTensor.Float((long[])Shape.Clone(), (float[])data),
            DType.Double => HostTensor.Double((long[])Shape.Clone(), (double[])data),
            DType.Int64 => HostTensor.Int64((long[])Shape.Clone(), (long[])data),
            DType.Int32 => HostTensor.Int32((long[])Shape.Clone(), (int[])data),
            _ => HostTensor.Bool((long[])Shape.Clone(), (bool[])data),
        };
    }

    /// <summary>Copies the tensor into a span (count = <see cref="ElementCount"/>).</summary>
    public void Download<T>(Span<T> destination) where T : unmanaged
    {
        CheckElement<T>();
        if (destination.Length != ElementCount)
            throw new ArgumentException($"cannot download tensor '{Name}' of {ShapeText} into {destination.Length} elements");
        if (!IsOnDevice)
        {
            Value.GetTensorDataAsSpan<T>().CopyTo(destination);
            return;
        }
        var array = new T[destination.Length];
        using (var dst = OrtValue.CreateTensorValueFromMemory(array, Shape))
            _factory.Copier.Copy(Value, dst, Type);
        array.CopyTo(destination);
    }

    /// <summary>Device-to-device (or host) copy from a tensor of the same type and shape.</summary>
    public void CopyFrom(DeviceTensor source)
    {
        if (source.Type != Type || !source.Shape.SequenceEqual(Shape))
            throw new ArgumentException($"cannot copy tensor '{source.Name}' of {source.ShapeText} into tensor '{Name}' of {ShapeText}");
        if (!IsOnDevice && !source.IsOnDevice)
        {
            source.Value.GetTensorMutableRawData().CopyTo(Value.GetTensorMutableRawData());
            return;
        }
        _factory.Copier.Copy(source.Value, Value, Type);
    }

    public void Dispose()
    {
        _value?.Dispose();
        _value = null;
    }

    public override string ToString() => $"{Name}: {ShapeText}{(IsOnDevice ? " (cuda)" : "")}";

    // ------------------------------------------------------------------ helpers

    public static string Describe(DType type, IReadOnlyList<long> shape) =>
        $"{TypeName(type)} [{string.Join(",", shape)}]";

    public static string TypeName(DType type) => type switch
    {
        DType.Float => "float",
        DType.Double => "double",
        DType.Int64 => "int64",
        DType.Int32 => "int32",
        DType.Bool => "bool",
        DType.UInt8 => "uint8",
        DType.Float16 => "float16",
        DType.BFloat16 => "bfloat16",
        _ => type.ToString(),
    };

    public static TensorElementType ToOrt(DType type) => (TensorElementType)(int)type;

    public static DType FromOrt(TensorElementType type) => (DType)(int)type;

    private static void CheckShape(string name, long[] shape)
    {
        if (shape.Any(d => d < 0))
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(",", shape)}] has a negative (dynamic) dimension; device tensors have static shapes");
    }

    private void CheckElement<T>() where T : unmanaged
    {
        var t = typeof(T);
        DType expected = t == typeof(float) ? DType.Float : t == typeof(double) ? DType.Double
            : t == typeof(long) ? DType.Int64 : t == typeof(int) ? DType.Int32 : t == typeof(bool) ? DType.Bool
            : t == typeof(byte) ? DType.UInt8 : (DType)(-1);
        if (expected != Type)
            throw new ArgumentException($"tensor '{Name}' holds {TypeName(Type)}, not {t.Name}");
    }

    private static Span<byte> HostBytes(Array data, DType type) => type switch
    {
        DType.Float => MemoryMarshal.AsBytes(((float[])data).AsSpan()),
        DType.Double => MemoryMarshal.AsBytes(((double[])data).AsSpan()),
        DType.Int64 => MemoryMarshal.AsBytes(((long[])data).AsSpan()),
        DType.Int32 => MemoryMarshal.AsBytes(((int[])data).AsSpan()),
        DType.Bool => MemoryMarshal.AsBytes(((bool[])data).AsSpan()),
        _ => throw new NotSupportedException($"element type {type}"),
    };

    /// <summary>An OrtValue over a pinned managed array (no copy).</summary>
    private static OrtValue WrapHost(Array data, DType type, long[] shape) => type switch
    {
        DType.Float => OrtValue.CreateTensorValueFromMemory((float[])data, shape),
        DType.Double => OrtValue.CreateTensorValueFromMemory((double[])data, shape),
        DType.Int64 => OrtValue.CreateTensorValueFromMemory((long[])data, shape),
        DType.Int32 => OrtValue.CreateTensorValueFromMemory((int[])data, shape),
        DType.Bool => OrtValue.CreateTensorValueFromMemory((bool[])data, shape),
        _ => throw new NotSupportedException($"element type {type}"),
    };
}

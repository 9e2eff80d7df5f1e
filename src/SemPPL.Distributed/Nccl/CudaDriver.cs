using System.Runtime.InteropServices;

namespace SemPPL.Distributed.Nccl;

/// <summary>
/// The few CUDA driver calls NCCL needs around it: make this rank's device current, a stream for the
/// collectives, polling that stream. The driver library (<c>libcuda.so.1</c>) comes with every NVIDIA
/// driver, whatever CUDA runtime ONNX Runtime and NCCL were built with, so no runtime version is pinned here.
/// Memory calls are for tests and checks that place values on the device.
/// </summary>
public sealed unsafe class CudaDriver
{
    public const string Name = "libcuda.so.1";
    public const int Success = 0, NotReady = 600, StreamNonBlocking = 1;

    internal readonly delegate* unmanaged<uint, int> Init;
    internal readonly delegate* unmanaged<int*, int, int> DeviceGet;
    internal readonly delegate* unmanaged<nint*, int, int> PrimaryContextRetain;
    internal readonly delegate* unmanaged<int, int> PrimaryContextRelease;
    internal readonly delegate* unmanaged<nint, int> ContextSetCurrent;
    internal readonly delegate* unmanaged<nint*, uint, int> StreamCreate;
    internal readonly delegate* unmanaged<nint, int> StreamQuery;
    internal readonly delegate* unmanaged<nint, int> StreamSynchronize;
    internal readonly delegate* unmanaged<nint, int> StreamDestroy;
    internal readonly delegate* unmanaged<int, byte**, int> GetErrorString;
    private readonly delegate* unmanaged<ulong*, nuint, int> _memAlloc;
    private readonly delegate* unmanaged<ulong, int> _memFree;
    private readonly delegate* unmanaged<ulong, void*, nuint, int> _memcpyHtoD;
    private readonly delegate* unmanaged<void*, ulong, nuint, int> _memcpyDtoH;
    internal readonly delegate* unmanaged<ulong, void*, nuint, nint, int> MemcpyHtoDAsync;
    internal readonly delegate* unmanaged<void*, ulong, nuint, nint, int> MemcpyDtoHAsync;

    private CudaDriver(nint lib)
    {
        // cuda.h maps several names to _v2 entry points; the driver exports both, the _v2 ones are current.
        nint F(string symbol) => NativeLibrary.TryGetExport(lib, symbol + "_v2", out var a) ? a : NativeLibraryLoader.Export(lib, Name, symbol);
        Init = (delegate* unmanaged<uint, int>)F("cuInit");
        DeviceGet = (delegate* unmanaged<int*, int, int>)F("cuDeviceGet");
        PrimaryContextRetain = (delegate* unmanaged<nint*, int, int>)F("cuDevicePrimaryCtxRetain");
        PrimaryContextRelease = (delegate* unmanaged<int, int>)F("cuDevicePrimaryCtxRelease");
        ContextSetCurrent = (delegate* unmanaged<nint, int>)F("cuCtxSetCurrent");
        StreamCreate = (delegate* unmanaged<nint*, uint, int>)F("cuStreamCreate");
        StreamQuery = (delegate* unmanaged<nint, int>)F("cuStreamQuery");
        StreamSynchronize = (delegate* unmanaged<nint, int>)F("cuStreamSynchronize");
        StreamDestroy = (delegate* unmanaged<nint, int>)F("cuStreamDestroy");
        GetErrorString = (delegate* unmanaged<int, byte**, int>)F("cuGetErrorString");
        _memAlloc = (delegate* unmanaged<ulong*, nuint, int>)F("cuMemAlloc");
        _memFree = (delegate* unmanaged<ulong, int>)F("cuMemFree");
        _memcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)F("cuMemcpyHtoD");
        _memcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)F("cuMemcpyDtoH");
        MemcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, nint, int>)F("cuMemcpyHtoDAsync");
        MemcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, nint, int>)F("cuMemcpyDtoHAsync");
    }

    /// <summary>Loads the driver library from <paramref name="path"/> (default: the loader's search for <see cref="Name"/>) and initialises it.</summary>
    /// <exception cref="CommunicatorException">no NVIDIA driver, or it cannot start.</exception>
    public static CudaDriver Load(string? path = null)
    {
        string file = path ?? Name;
        nint lib = NativeLibraryLoader.TryLoad(file, global: false, out string error);
        if (lib == 0) throw new CommunicatorException($"the NVIDIA driver's {file} could not be loaded ({error}): NCCL needs a machine with an NVIDIA GPU and its driver");
        var driver = new CudaDriver(lib);
        driver.Check(driver.Init(0), "cuInit");
        return driver;
    }

    public void Check(int result, string call)
    {
        if (result != Success) throw new CommunicatorException($"{call} failed: {Describe(result)}");
    }

    public string Describe(int result)
    {
        byte* text = null;
        return GetErrorString(result, &text) == Success && text != null ? $"{Marshal.PtrToStringUTF8((nint)text)} (CUDA error {result})" : $"CUDA error {result}";
    }

    /// <summary>Device memory for tests and checks (the training step's buffers come from ONNX Runtime).</summary>
    public nint Allocate(long bytes)
    {
        ulong p = 0;
        Check(_memAlloc(&p, (nuint)Math.Max(bytes, 1)), "cuMemAlloc");
        return (nint)p;
    }

    public void Free(nint device) => Check(_memFree((ulong)device), "cuMemFree");

    /// <summary>Returns when the values are on the device, so work on any stream may read them.</summary>
    public void CopyToDevice<T>(ReadOnlySpan<T> host, nint device) where T : unmanaged
    {
        fixed (T* p = host) Check(_memcpyHtoD((ulong)device, p, (nuint)(host.Length * sizeof(T))), "cuMemcpyHtoD");
        // From pageable memory the call may return before the DMA ends, and NCCL's non-blocking stream does not wait
        // for the null stream the copy ran on.
        Check(StreamSynchronize(0), "cuStreamSynchronize");
    }

    public void CopyToHost<T>(nint device, Span<T> host) where T : unmanaged
    {
        fixed (T* p = host) Check(_memcpyDtoH(p, (ulong)device, (nuint)(host.Length * sizeof(T))), "cuMemcpyDtoH");
    }
}

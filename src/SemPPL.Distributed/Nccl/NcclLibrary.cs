using System.Runtime.InteropServices;

namespace SemPPL.Distributed.Nccl;

/// <summary>NCCL's 128-byte communicator id (<c>ncclUniqueId</c>), made by rank 0 and passed by value to every rank's init.</summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
internal unsafe struct NcclUniqueId
{
    public const int Bytes = 128;
    public fixed byte Internal[Bytes];
}

/// <summary>
/// The calls of NCCL's C library (<c>libnccl.so.2</c>, NCCL 2.13 or later: <c>ncclAvg</c>, <c>ncclGetLastError</c>). NCCL is not packaged
/// by Linux distributions; the usual copy is the pip wheel <c>nvidia-nccl-cu13</c> (or <c>-cu12</c>), whose file is
/// <c>site-packages/nvidia/nccl/lib/libnccl.so.2</c>: load it by path.
/// </summary>
internal sealed unsafe class NcclLibrary
{
    public const string Name = "libnccl.so.2";
    /// <summary>The environment variable that names the library file when it is not on the loader's search path.</summary>
    public const string PathVariable = "SEMPPL_NCCL_LIBRARY";
    public const int Success = 0, InProgress = 7;
    public const int Uint8 = 1, Int64 = 4, Float32 = 7;
    public const int Sum = 0, Avg = 4;

    public readonly delegate* unmanaged<int*, int> GetVersion;
    public readonly delegate* unmanaged<NcclUniqueId*, int> GetUniqueId;
    public readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, int> CommInitRank;
    public readonly delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> AllReduce;
    public readonly delegate* unmanaged<nint, nint, nuint, int, nint, nint, int> AllGather;
    public readonly delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> Broadcast;
    public readonly delegate* unmanaged<nint, int*, int> CommGetAsyncError;
    public readonly delegate* unmanaged<nint, int> CommAbort;
    public readonly delegate* unmanaged<nint, int> CommDestroy;
    public readonly delegate* unmanaged<int, byte*> GetErrorString;
    public readonly delegate* unmanaged<nint, byte*> GetLastError;

    public string File { get; }

    private NcclLibrary(nint lib, string file)
    {
        File = file;
        nint F(string symbol) => NativeLibraryLoader.Export(lib, file, symbol);
        GetVersion = (delegate* unmanaged<int*, int>)F("ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)F("ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)F("ncclCommInitRank");
        AllReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)F("ncclAllReduce");
        AllGather = (delegate* unmanaged<nint, nint, nuint, int, nint, nint, int>)F("ncclAllGather");
        Broadcast = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)F("ncclBroadcast");
        CommGetAsyncError = (delegate* unmanaged<nint, int*, int>)F("ncclCommGetAsyncError");
        CommAbort = (delegate* unmanaged<nint, int>)F("ncclCommAbort");
        CommDestroy = (delegate* unmanaged<nint, int>)F("ncclCommDestroy");
        GetErrorString = (delegate* unmanaged<int, byte*>)F("ncclGetErrorString");
        GetLastError = (delegate* unmanaged<nint, byte*>)F("ncclGetLastError");
    }

    /// <summary>Loads NCCL from <paramref name="path"/>, or by name through the loader's search (LD_LIBRARY_PATH) when null.</summary>
    /// <exception cref="CommunicatorException">the file is missing or not NCCL, with where to get it.</exception>
    public static NcclLibrary Load(string? path)
    {
        string file = string.IsNullOrWhiteSpace(path) ? Name : path;
        nint lib = NativeLibraryLoader.TryLoad(file, global: false, out string error);
        if (lib == 0)
            throw new CommunicatorException($"NCCL could not be loaded from {file} ({error}): install it (pip install nvidia-nccl-cu13 puts it at "
                                            + $"site-packages/nvidia/nccl/lib/{Name}) and set {PathVariable} to that file or add its folder to LD_LIBRARY_PATH");
        return new NcclLibrary(lib, file);
    }

    public int Type(ElementType type) => type switch
    {
        ElementType.Float32 => Float32,
        ElementType.Int64 => Int64,
        _ => Uint8,
    };

    public string Describe(int result, nint comm)
    {
        string text = Marshal.PtrToStringUTF8((nint)GetErrorString(result)) ?? $"NCCL error {result}";
        // NCCL keeps its last warning process-wide (the comm argument is unused), so a failed join, which has no comm
        // yet, still says why (a duplicate GPU, an address in use, a peer that never came).
        string last = Marshal.PtrToStringUTF8((nint)GetLastError(comm)) ?? "";
        return string.IsNullOrWhiteSpace(last) ? text : $"{text}: {last}";
    }
}

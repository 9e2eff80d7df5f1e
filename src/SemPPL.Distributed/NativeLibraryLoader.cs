using System.Runtime.InteropServices;

namespace SemPPL.Distributed;

/// <summary>
/// dlopen with the loader's own error text (NativeLibrary.TryLoad drops it) and a choice of RTLD_GLOBAL:
/// Open MPI's plugins resolve symbols of libmpi, so it must be loaded globally.
/// </summary>
internal static partial class NativeLibraryLoader
{
    private const int RtldNow = 2, RtldGlobal = 0x100;

    /// <summary>The library's handle, or 0 and the dynamic loader's reason.</summary>
    public static nint TryLoad(string nameOrPath, bool global, out string error)
    {
        error = "";
        // Binds dlerror's stub now: binding it after a failed dlopen would look symbols up and clear the error.
        DlError();
        nint handle = DlOpen(nameOrPath, RtldNow | (global ? RtldGlobal : 0));
        if (handle == 0) error = Marshal.PtrToStringUTF8(DlError()) ?? "unknown dlopen error";
        return handle;
    }

    /// <summary>The address of an exported function or global; throws naming both when it is missing.</summary>
    public static nint Export(nint library, string libraryName, string symbol) =>
        NativeLibrary.TryGetExport(library, symbol, out var address)
            ? address
            : throw new CommunicatorException($"{libraryName} does not export {symbol}: an incompatible version");

    /// <summary>Ends the process at once, without running managed or native exit handlers that could wait on a blocked collective.</summary>
    public static void ExitNow(int code) => Exit(code);

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string file, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial nint DlError();

    [LibraryImport("libc.so.6", EntryPoint = "_exit")]
    private static partial void Exit(int status);
}

using System.Runtime.InteropServices;

namespace SemPPL.Distributed;

/// <summary>
/// The C library's environment, which native libraries read with <c>getenv</c>. .NET keeps its own copy on Unix:
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach native code, so a variable that
/// configures a native library after the process started (NCCL's <c>NCCL_COMM_ID</c>) is set here.
/// </summary>
public static partial class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> for native code in this process (overwriting it).</summary>
    /// <exception cref="CommunicatorException">the C library refused (an empty name or one with '=').</exception>
    public static void Set(string name, string value)
    {
        if (SetEnv(name, value, 1) != 0)
            throw new CommunicatorException($"setenv({name}) failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>What native code's <c>getenv</c> returns for <paramref name="name"/>; null when it is not set.</summary>
    public static string? Get(string name) => Marshal.PtrToStringUTF8(GetEnv(name));

    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc.so.6", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetEnv(string name);
}

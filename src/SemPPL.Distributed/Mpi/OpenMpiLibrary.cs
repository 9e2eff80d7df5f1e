using System.Runtime.InteropServices;

namespace SemPPL.Distributed.Mpi;

/// <summary>
/// The calls of Open MPI's C library (<c>libmpi.so.40</c>, ABI of Open MPI 4 and 5) that the communicator uses.
/// Open MPI's handles are the addresses of exported globals (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>),
/// so they are looked up, not compiled in; <c>MPI_IN_PLACE</c> is <c>(void*)1</c>.
/// </summary>
internal sealed unsafe class OpenMpiLibrary
{
    public const string Name = "libmpi.so.40";
    public const int Success = 0, ThreadSerialized = 2, MaxErrorString = 256;
    public static readonly nint InPlace = 1;

    public readonly delegate* unmanaged<int*, nint, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    public readonly delegate* unmanaged<nint, nint, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<nint, int, nint, nint, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<nint, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

    public readonly nint CommWorld, ErrorsReturn, OpSum, Float, Int64, Byte;

    private OpenMpiLibrary(nint lib)
    {
        nint F(string symbol) => NativeLibraryLoader.Export(lib, Name, symbol);
        InitThread = (delegate* unmanaged<int*, nint, int, int*, int>)F("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)F("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)F("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)F("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)F("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)F("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)F("MPI_Comm_set_errhandler");
        Allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)F("MPI_Allreduce");
        Allgather = (delegate* unmanaged<nint, int, nint, nint, int, nint, nint, int>)F("MPI_Allgather");
        Bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)F("MPI_Bcast");
        Barrier = (delegate* unmanaged<nint, int>)F("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)F("MPI_Abort");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)F("MPI_Error_string");
        CommWorld = F("ompi_mpi_comm_world");
        ErrorsReturn = F("ompi_mpi_errors_return");
        OpSum = F("ompi_mpi_op_sum");
        Float = F("ompi_mpi_float");
        Int64 = F("ompi_mpi_int64_t");
        Byte = F("ompi_mpi_byte");
    }

    private static OpenMpiLibrary? _loaded;

    /// <summary>Loads libmpi once per process.</summary>
    /// <exception cref="CommunicatorException">Open MPI is not installed, with how to install it.</exception>
    public static OpenMpiLibrary Load()
    {
        if (_loaded is not null) return _loaded;
        nint lib = NativeLibraryLoader.TryLoad(Name, global: true, out string error);
        if (lib == 0)
            throw new CommunicatorException($"Open MPI's {Name} could not be loaded ({error}): install Open MPI 4 or later "
                                            + "(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) or add its lib folder to LD_LIBRARY_PATH");
        return _loaded = new OpenMpiLibrary(lib);
    }

    public nint Type(ElementType type) => type switch
    {
        ElementType.Float32 => Float,
        ElementType.Int64 => Int64,
        _ => Byte,
    };

    public string Describe(int code)
    {
        byte* text = stackalloc byte[MaxErrorString];
        int length = 0;
        return ErrorString(code, text, &length) == Success ? Marshal.PtrToStringUTF8((nint)text, length) : $"MPI error {code}";
    }
}

namespace SemPPL.Distributed.Mpi;

/// <summary>
/// Collectives over Open MPI on host buffers (CPU training, and the control plane of GPU training: NCCL's
/// unique id, checkpoint bytes). Errors come back as return codes (<c>MPI_ERRORS_RETURN</c> on the world
/// communicator) and become <see cref="CommunicatorException"/> naming the rank; a collective that blocks past
/// the timeout ends the process through <see cref="CollectiveWatchdog"/>. MPI may be initialised once per
/// process: one instance owns it and finalises it on Dispose.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly OpenMpiLibrary _mpi;
    private readonly CollectiveWatchdog _watchdog;
    private bool _disposed;

    private MpiCommunicator(OpenMpiLibrary mpi, int rank, int worldSize, CollectiveWatchdog watchdog)
    {
        (_mpi, Rank, WorldSize, _watchdog) = (mpi, rank, worldSize, watchdog);
    }

    /// <summary>Initialises MPI and joins <c>MPI_COMM_WORLD</c>.</summary>
    /// <param name="collectiveTimeout">How long one collective may block before the process ends (a dead or hung peer).</param>
    /// <param name="timeoutExitCode">The exit code of a process the watchdog ends.</param>
    /// <exception cref="CommunicatorException">Open MPI is missing, or MPI cannot start or was already used in this process.</exception>
    public static MpiCommunicator Initialize(TimeSpan collectiveTimeout, int timeoutExitCode)
    {
        var mpi = OpenMpiLibrary.Load();
        int flag = 0;
        Check(mpi, mpi.Finalized(&flag), "MPI_Finalized", "this process");
        if (flag != 0) throw new CommunicatorException("MPI was already finalised in this process; it cannot start again");
        Check(mpi, mpi.Initialized(&flag), "MPI_Initialized", "this process");
        if (flag != 0) throw new CommunicatorException("MPI is already initialised in this process; one MpiCommunicator owns it");
        int provided = 0;
        Check(mpi, mpi.InitThread(null, 0, OpenMpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread", "this process");
        int rank = 0, size = 0;
        Check(mpi, mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank", "this process");
        Check(mpi, mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size", "this process");
        string where = $"rank {rank} of {size}";
        Check(mpi, mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler", where);
        return new MpiCommunicator(mpi, rank, size, new CollectiveWatchdog(collectiveTimeout, where, timeoutExitCode));
    }

    public int Rank { get; }

    public int WorldSize { get; }

    public BufferLocation Location => BufferLocation.Host;

    public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation)
    {
        CollectiveChecks.AllReduce(this, buffer);
        // MPI counts are int: longer buffers go in chunks.
        for (long done = 0; done < buffer.Count;)
        {
            int n = (int)Math.Min(int.MaxValue, buffer.Count - done);
            nint p = buffer.Pointer + (nint)(done * sizeof(float));
            _watchdog.Arm("MPI_Allreduce");
            Finish(_mpi.Allreduce(OpenMpiLibrary.InPlace, p, n, _mpi.Float, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
            done += n;
        }
        if (operation == ReduceOperation.Average && WorldSize > 1) Scale(buffer, 1f / WorldSize);
    }

    public void AllGather(CollectiveBuffer send, CollectiveBuffer receive)
    {
        CollectiveChecks.AllGather(this, send, receive);
        int n = CountOf(send);
        nint type = _mpi.Type(send.Type);
        _watchdog.Arm("MPI_Allgather");
        Finish(_mpi.Allgather(send.Pointer, n, type, receive.Pointer, n, type, _mpi.CommWorld), "MPI_Allgather");
    }

    public void Broadcast(CollectiveBuffer buffer, int root)
    {
        CollectiveChecks.Broadcast(this, buffer, root);
        int n = CountOf(buffer);
        _watchdog.Arm("MPI_Bcast");
        Finish(_mpi.Bcast(buffer.Pointer, n, _mpi.Type(buffer.Type), root, _mpi.CommWorld), "MPI_Bcast");
    }

    public void Barrier()
    {
        _watchdog.Arm("MPI_Barrier");
        Finish(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");
    }

    public void Abort(string message, int exitCode)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        _mpi.Abort(_mpi.CommWorld, exitCode);
        NativeLibraryLoader.ExitNow(exitCode);   // MPI_Abort does not return; if it did, still end this rank
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _watchdog.Dispose();
        _mpi.Finalize();
    }

    private void Finish(int code, string call)
    {
        _watchdog.Disarm();
        if (code != OpenMpiLibrary.Success) throw new CommunicatorException($"{CollectiveChecks.Where(this)}: {call} failed: {_mpi.Describe(code)}");
    }

    private int CountOf(CollectiveBuffer b)
    {
        if (b.Count > int.MaxValue) throw new CommunicatorException($"{CollectiveChecks.Where(this)}: {b.Count} elements exceed MPI's count limit ({int.MaxValue})");
        return (int)b.Count;
    }

    private static void Scale(CollectiveBuffer buffer, float factor)
    {
        float* p = (float*)buffer.Pointer;
        var f = new System.Numerics.Vector<float>(factor);
        long i = 0, n = buffer.Count, width = System.Numerics.Vector<float>.Count;
        for (; i + width <= n; i += width) System.Numerics.Vector.Store(System.Numerics.Vector.Load(p + i) * f, p + i);
        for (; i < n; i++) p[i] *= factor;
    }

    private static void Check(OpenMpiLibrary mpi, int code, string call, string where)
    {
        if (code != OpenMpiLibrary.Success) throw new CommunicatorException($"{where}: {call} failed: {mpi.Describe(code)}");
    }
}

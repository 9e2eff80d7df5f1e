namespace SemPPL.Distributed.Nccl;

/// <summary>
/// Collectives over NCCL on buffers in this rank's CUDA device memory (one process per GPU). Two ways to join:
/// <see cref="Create"/> makes the communicator id on rank 0 and broadcasts it over a host communicator (Open MPI),
/// which also serves <see cref="Barrier"/> and <see cref="Abort"/>; <see cref="CreateAtRendezvous"/> needs no host
/// engine: NCCL's own bootstrap meets at <c>NCCL_COMM_ID</c> (rank 0 listens there), the barrier is a one-element
/// all-reduce and abort is <c>ncclCommAbort</c> and exit (the peers' collectives then fail).
/// The collectives run on a stream of their own; each call waits for its result, polling the stream and
/// <c>ncclCommGetAsyncError</c>, so a peer that fails or stops answering becomes a <see cref="CommunicatorException"/>
/// naming this rank (after <c>ncclCommAbort</c>) within the timeout instead of a hang. The caller keeps ownership of
/// the host communicator; it must outlive this one.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    /// <summary>The environment variable that names libnccl.so.2's file when it is not on the loader's search path.</summary>
    public const string LibraryPathVariable = NcclLibrary.PathVariable;

    /// <summary>NCCL's variable for its own bootstrap address (<c>host:port</c>, <c>[ipv6]:port</c>).</summary>
    public const string CommIdVariable = "NCCL_COMM_ID";

    private readonly NcclLibrary _nccl;
    private readonly CudaDriver _cuda;
    private readonly ICommunicator? _host;   // null: joined at a rendezvous, no host engine
    private readonly int _device;
    private readonly nint _context, _stream;
    private readonly TimeSpan _timeout;
    private nint _comm;
    private nint _barrier;     // one device float for Barrier without a host communicator
    private string? _broken;   // why the communicator was aborted; every later call fails with it

    private NcclCommunicator(NcclLibrary nccl, CudaDriver cuda, ICommunicator? host, int rank, int worldSize, int device, nint context, nint stream, TimeSpan timeout)
    {
        (_nccl, _cuda, _host, Rank, WorldSize, _device, _context, _stream, _timeout) = (nccl, cuda, host, rank, worldSize, device, context, stream, timeout);
        Staging = new StreamStaging(this);
    }

    /// <summary>Joins every rank of <paramref name="host"/> in one NCCL communicator on CUDA device <paramref name="cudaDevice"/>.</summary>
    /// <param name="libraryPath">libnccl.so.2's file; null searches the loader's path.</param>
    /// <param name="timeout">How long one collective (and the initial join) may take before it fails.</param>
    /// <exception cref="CommunicatorException">NCCL or the driver is missing, or the join failed; names the rank.</exception>
    public static NcclCommunicator Create(ICommunicator host, int cudaDevice, string? libraryPath, TimeSpan timeout)
    {
        if (host.Location != BufferLocation.Host) throw new CommunicatorException("NCCL's id is exchanged over a host communicator (Open MPI)");
        var c = Open(host, host.Rank, host.WorldSize, cudaDevice, libraryPath, timeout);
        try
        {
            var id = new NcclUniqueId();
            if (c.Rank == 0) c.Nccl(c._nccl.GetUniqueId(&id), "ncclGetUniqueId");
            host.Broadcast(new Span<byte>(id.Internal, NcclUniqueId.Bytes), 0);
            c.InitRank(id);
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Joins rank <paramref name="rank"/> of <paramref name="worldSize"/> through NCCL's own bootstrap at
    /// <paramref name="commId"/> (<c>host:port</c> of rank 0's machine, a free port there), with no host engine:
    /// exported to native code as <c>NCCL_COMM_ID</c>, it makes every rank's <c>ncclGetUniqueId</c> return the same id,
    /// and rank 0's <c>ncclCommInitRank</c> listens there. A join that does not complete within <paramref name="timeout"/>
    /// (a rank that never came) ends the process with exit code <paramref name="timeoutExitCode"/> and a line naming this rank.
    /// </summary>
    /// <exception cref="CommunicatorException">NCCL or the driver is missing, or the join failed; names the rank.</exception>
    public static NcclCommunicator CreateAtRendezvous(int rank, int worldSize, string commId, int cudaDevice, string? libraryPath,
                                                      TimeSpan timeout, int timeoutExitCode)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {worldSize}");
        // Before NCCL is loaded: it reads its variables from the native environment once initialised.
        NativeEnvironment.Set(CommIdVariable, commId);
        var c = Open(null, rank, worldSize, cudaDevice, libraryPath, timeout);
        try
        {
            var id = new NcclUniqueId();
            c.Nccl(c._nccl.GetUniqueId(&id), $"ncclGetUniqueId ({CommIdVariable}={commId})");
            using (var watchdog = new CollectiveWatchdog(timeout, CollectiveChecks.Where(c), timeoutExitCode))
            {
                watchdog.Arm($"joining NCCL at {commId} (ncclCommInitRank)");
                c.InitRank(id);
                watchdog.Disarm();
            }
            c._barrier = c._cuda.Allocate(sizeof(float));
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    /// <summary>Loads NCCL and the driver, makes <paramref name="cudaDevice"/>'s primary context current and a stream for the collectives.</summary>
    private static NcclCommunicator Open(ICommunicator? host, int rank, int worldSize, int cudaDevice, string? libraryPath, TimeSpan timeout)
    {
        string where = $"rank {rank} of {worldSize}";
        NcclLibrary nccl;
        CudaDriver cuda;
        try
        {
            nccl = NcclLibrary.Load(libraryPath);
            cuda = CudaDriver.Load();
        }
        catch (CommunicatorException e)
        {
            throw new CommunicatorException($"{where}: {e.Message}");
        }
        int dev = 0;
        nint context = 0, stream = 0;
        Cuda(cuda, cuda.DeviceGet(&dev, cudaDevice), $"cuDeviceGet({cudaDevice})", where);
        Cuda(cuda, cuda.PrimaryContextRetain(&context, dev), "cuDevicePrimaryCtxRetain", where);
        Cuda(cuda, cuda.ContextSetCurrent(context), "cuCtxSetCurrent", where);
        Cuda(cuda, cuda.StreamCreate(&stream, CudaDriver.StreamNonBlocking), "cuStreamCreate", where);
        return new NcclCommunicator(nccl, cuda, host, rank, worldSize, dev, context, stream, timeout);
    }

    public int Rank { get; }

    public int WorldSize { get; }

    /// <summary>Device memory on this rank's GPU with copies ordered on the collectives' stream (for <see cref="DeviceStagedCommunicator"/>).</summary>
    public IDeviceStaging Staging { get; }

    public BufferLocation Location => BufferLocation.CudaDevice;

    /// <summary>NCCL's version as a number (e.g. 23007 for 2.30.7).</summary>
    public int Version
    {
        get
        {
            int v = 0;
            Nccl(_nccl.GetVersion(&v), "ncclGetVersion");
            return v;
        }
    }

    public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation)
    {
        CollectiveChecks.AllReduce(this, buffer);
        Begin();
        int op = operation == ReduceOperation.Average ? NcclLibrary.Avg : NcclLibrary.Sum;
        Nccl(_nccl.AllReduce(buffer.Pointer, buffer.Pointer, (nuint)buffer.Count, NcclLibrary.Float32, op, _comm, _stream), "ncclAllReduce");
        Wait("ncclAllReduce");
    }

    public void AllGather(CollectiveBuffer send, CollectiveBuffer receive)
    {
        CollectiveChecks.AllGather(this, send, receive);
        Begin();
        Nccl(_nccl.AllGather(send.Pointer, receive.Pointer, (nuint)send.Count, _nccl.Type(send.Type), _comm, _stream), "ncclAllGather");
        Wait("ncclAllGather");
    }

    public void Broadcast(CollectiveBuffer buffer, int root)
    {
        CollectiveChecks.Broadcast(this, buffer, root);
        Begin();
        Nccl(_nccl.Broadcast(buffer.Pointer, buffer.Pointer, (nuint)buffer.Count, _nccl.Type(buffer.Type), root, _comm, _stream), "ncclBroadcast");
        Wait("ncclBroadcast");
    }

    /// <summary>
    /// A host barrier over the bootstrap communicator (NCCL has none; device work is ordered by the waits above), or,
    /// joined at a rendezvous, a one-element all-reduce, which returns when every rank has called it.
    /// </summary>
    public void Barrier()
    {
        if (_host is not null) _host.Barrier();
        else AllReduce(new CollectiveBuffer(_barrier, 1, ElementType.Float32), ReduceOperation.Sum);
    }

    public void Abort(string message, int exitCode)
    {
        if (_host is null)
        {
            Console.Error.WriteLine(message);
            Console.Error.Flush();
        }
        if (_comm != 0) _nccl.CommAbort(_comm);   // the peers' collectives fail instead of waiting for this rank
        _comm = 0;
        if (_host is not null) _host.Abort(message, exitCode);
        NativeLibraryLoader.ExitNow(exitCode);
    }

    public void Dispose()
    {
        if (_context != 0) _cuda.ContextSetCurrent(_context);
        if (_barrier != 0) FreeQuietly(_barrier);
        _barrier = 0;
        if (_comm != 0)
        {
            if (_broken is null) _nccl.CommDestroy(_comm); else _nccl.CommAbort(_comm);
            _comm = 0;
        }
        if (_stream != 0) _cuda.StreamDestroy(_stream);
        if (_context != 0) _cuda.PrimaryContextRelease(_device);
    }

    /// <summary>Joins the communicator <paramref name="id"/> names; blocks until every rank has.</summary>
    private void InitRank(NcclUniqueId id)
    {
        nint comm = 0;
        Nccl(_nccl.CommInitRank(&comm, WorldSize, id, Rank), "ncclCommInitRank");
        _comm = comm;
    }

    private void Begin()
    {
        if (_broken is not null) throw new CommunicatorException($"{CollectiveChecks.Where(this)}: NCCL was aborted earlier ({_broken})");
        // The current context is per thread: the caller's thread may not be the one that created the communicator.
        Cuda(_cuda, _cuda.ContextSetCurrent(_context), "cuCtxSetCurrent", CollectiveChecks.Where(this));
    }

    /// <summary>Polls the stream until the collective is done, NCCL reports an asynchronous error, or the timeout passes.</summary>
    private void Wait(string call)
    {
        long deadline = Environment.TickCount64 + (long)_timeout.TotalMilliseconds;
        var spin = new SpinWait();
        while (true)
        {
            int r = _cuda.StreamQuery(_stream);
            if (r == CudaDriver.Success) return;
            if (r != CudaDriver.NotReady) Fail($"{call} failed on the device: {_cuda.Describe(r)}");
            int async = NcclLibrary.Success;
            _nccl.CommGetAsyncError(_comm, &async);
            if (async != NcclLibrary.Success && async != NcclLibrary.InProgress)
                Fail($"{call} failed: {_nccl.Describe(async, _comm)} (another rank died or its network failed)");
            if (Environment.TickCount64 > deadline)
                Fail($"{call} did not complete within {_timeout.TotalSeconds:0.#} s: another rank died or stopped responding");
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private void Fail(string reason)
    {
        _broken = reason;
        _nccl.CommAbort(_comm);   // releases the stream's pending work so this rank can exit
        _comm = 0;
        throw new CommunicatorException($"{CollectiveChecks.Where(this)}: {reason}");
    }

    /// <summary>Device memory of this rank's context; uploads and downloads run on the collectives' stream, so they are ordered with them.</summary>
    private sealed class StreamStaging(NcclCommunicator c) : IDeviceStaging
    {
        public nint Allocate(long bytes)
        {
            c.Begin();
            return c._cuda.Allocate(bytes);
        }

        public void Free(nint device)
        {
            c._cuda.ContextSetCurrent(c._context);
            c.FreeQuietly(device);
        }

        public void Upload(nint host, nint device, long bytes)
        {
            c.Begin();
            // From pageable memory the call returns once the bytes are staged; the stream orders the copy before the collective.
            Cuda(c._cuda, c._cuda.MemcpyHtoDAsync((ulong)device, (void*)host, (nuint)bytes, c._stream), "cuMemcpyHtoDAsync", CollectiveChecks.Where(c));
        }

        public void Download(nint device, nint host, long bytes)
        {
            c.Begin();
            // The collective before it has completed (each call waits for its result), so this returns without waiting on a peer.
            Cuda(c._cuda, c._cuda.MemcpyDtoHAsync((void*)host, (ulong)device, (nuint)bytes, c._stream), "cuMemcpyDtoHAsync", CollectiveChecks.Where(c));
            Cuda(c._cuda, c._cuda.StreamSynchronize(c._stream), "cuStreamSynchronize", CollectiveChecks.Where(c));
        }
    }

    /// <summary>Releases device memory while ending; a failure there must not replace the error that is ending the rank.</summary>
    private void FreeQuietly(nint device)
    {
        try { _cuda.Free(device); }
        catch (CommunicatorException) { }
    }

    private void Nccl(int result, string call)
    {
        if (result == NcclLibrary.Success) return;
        throw new CommunicatorException($"{CollectiveChecks.Where(this)}: {call} failed: {_nccl.Describe(result, _comm)}");
    }

    private static void Cuda(CudaDriver cuda, int result, string call, string where)
    {
        if (result != CudaDriver.Success) throw new CommunicatorException($"{where}: {call} failed: {cuda.Describe(result)}");
    }
}

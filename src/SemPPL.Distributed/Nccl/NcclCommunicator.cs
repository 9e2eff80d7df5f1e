namespace SemPPL.Distributed.Nccl;

/// <summary>
/// Collectives over NCCL on buffers in this rank's CUDA device memory (one process per GPU). The communicator id is
/// made on rank 0 and broadcast over the host communicator (Open MPI), which also serves <see cref="Barrier"/>.
/// The collectives run on a stream of their own; each call waits for its result, polling the stream and
/// <c>ncclCommGetAsyncError</c>, so a peer that fails or stops answering becomes a <see cref="CommunicatorException"/>
/// naming this rank (after <c>ncclCommAbort</c>) within the timeout instead of a hang. The caller keeps ownership of
/// the host communicator; it must outlive this one.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    /// <summary>The environment variable that names libnccl.so.2's file when it is not on the loader's search path.</summary>
    public const string LibraryPathVariable = NcclLibrary.PathVariable;

    private readonly NcclLibrary _nccl;
    private readonly CudaDriver _cuda;
    private readonly ICommunicator _host;
    private readonly int _device;
    private readonly nint _context, _stream;
    private readonly TimeSpan _timeout;
    private nint _comm;
    private string? _broken;   // why the communicator was aborted; every later call fails with it

    private NcclCommunicator(NcclLibrary nccl, CudaDriver cuda, ICommunicator host, int device, nint context, nint stream, TimeSpan timeout)
    {
        (_nccl, _cuda, _host, _device, _context, _stream, _timeout) = (nccl, cuda, host, device, context, stream, timeout);
    }

    /// <summary>Joins every rank of <paramref name="host"/> in one NCCL communicator on CUDA device <paramref name="cudaDevice"/>.</summary>
    /// <param name="libraryPath">libnccl.so.2's file; null searches the loader's path.</param>
    /// <param name="timeout">How long one collective (and the initial join) may take before it fails.</param>
    /// <exception cref="CommunicatorException">NCCL or the driver is missing, or the join failed; names the rank.</exception>
    public static NcclCommunicator Create(ICommunicator host, int cudaDevice, string? libraryPath, TimeSpan timeout)
    {
        if (host.Location != BufferLocation.Host) throw new CommunicatorException("NCCL's id is exchanged over a host communicator (Open MPI)");
        string where = CollectiveChecks.Where(host);
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
        var c = new NcclCommunicator(nccl, cuda, host, dev, context, stream, timeout);
        try
        {
            c.Join();
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    public int Rank => _host.Rank;

    public int WorldSize => _host.WorldSize;

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

    /// <summary>A host barrier over the bootstrap communicator (NCCL has none; device work is ordered by the waits above).</summary>
    public void Barrier() => _host.Barrier();

    public void Abort(string message, int exitCode)
    {
        if (_comm != 0) _nccl.CommAbort(_comm);
        _comm = 0;
        _host.Abort(message, exitCode);
    }

    public void Dispose()
    {
        if (_comm != 0)
        {
            _cuda.ContextSetCurrent(_context);
            if (_broken is null) _nccl.CommDestroy(_comm); else _nccl.CommAbort(_comm);
            _comm = 0;
        }
        if (_stream != 0) _cuda.StreamDestroy(_stream);
        if (_context != 0) _cuda.PrimaryContextRelease(_device);
    }

    /// <summary>Rank 0 makes the id, the host communicator broadcasts it, every rank joins (blocks until all have).</summary>
    private void Join()
    {
        var id = new NcclUniqueId();
        var bytes = new Span<byte>(id.Internal, NcclUniqueId.Bytes);
        if (Rank == 0) Nccl(_nccl.GetUniqueId(&id), "ncclGetUniqueId");
        _host.Broadcast(bytes, 0);
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

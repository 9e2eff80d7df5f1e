using SemPPL.Distributed;
using SemPPL.Distributed.Nccl;

/// <summary>
/// Presents NCCL as a host communicator for the probe's value checks: each collective copies the host arrays to
/// fresh device buffers, runs on them and copies back. A check harness, not a way to train (it allocates per call).
/// </summary>
internal sealed unsafe class DeviceStagedCommunicator(NcclCommunicator device, CudaDriver cuda) : ICommunicator
{
    public int Rank => device.Rank;

    public int WorldSize => device.WorldSize;

    public BufferLocation Location => BufferLocation.Host;

    public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation) =>
        Staged(buffer, d => device.AllReduce(d, operation));

    public void AllGather(CollectiveBuffer send, CollectiveBuffer receive) =>
        Staged(send, s => Staged(receive, r => device.AllGather(s, r)));

    public void Broadcast(CollectiveBuffer buffer, int root) => Staged(buffer, d => device.Broadcast(d, root));

    public void Barrier() => device.Barrier();

    public void Abort(string message, int exitCode) => device.Abort(message, exitCode);

    public void Dispose() { }

    private void Staged(CollectiveBuffer host, Action<CollectiveBuffer> run)
    {
        nint d = cuda.Allocate(host.Bytes);
        try
        {
            var bytes = new Span<byte>((void*)host.Pointer, checked((int)host.Bytes));
            cuda.CopyToDevice<byte>(bytes, d);
            run(host with { Pointer = d });
            cuda.CopyToHost(d, bytes);
        }
        finally { cuda.Free(d); }
    }
}

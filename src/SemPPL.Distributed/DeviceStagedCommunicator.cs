namespace SemPPL.Distributed;

/// <summary>
/// A host-array communicator over a device one (NCCL), for a job without a host engine (a torchrun-style launch on
/// CUDA has no Open MPI): each collective copies the host values into one device scratch buffer, runs there and copies
/// the result back. The scratch grows to the largest call and is kept, so calls of known sizes allocate nothing.
/// For the control plane (loss scalars, checkpoint bytes, start checks), not for the step's tensors, which stay on the
/// device. Barrier and Abort are the device communicator's. Does not own <paramref name="device"/>; frees the scratch on Dispose.
/// </summary>
public sealed class DeviceStagedCommunicator(ICommunicator device, IDeviceStaging staging) : ICommunicator
{
    private nint _scratch;
    private long _capacity;

    public int Rank => device.Rank;

    public int WorldSize => device.WorldSize;

    public BufferLocation Location => BufferLocation.Host;

    /// <summary>The scratch buffer's size in bytes (0 before the first collective).</summary>
    public long ScratchBytes => _capacity;

    public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation)
    {
        CollectiveChecks.AllReduce(this, buffer);
        if (buffer.Count == 0) return;
        nint d = Scratch(buffer.Bytes);
        staging.Upload(buffer.Pointer, d, buffer.Bytes);
        device.AllReduce(buffer with { Pointer = d }, operation);
        staging.Download(d, buffer.Pointer, buffer.Bytes);
    }

    public void AllGather(CollectiveBuffer send, CollectiveBuffer receive)
    {
        CollectiveChecks.AllGather(this, send, receive);
        if (send.Count == 0) return;
        // In place (NCCL's rule: this rank's part at its offset of the receive buffer), so the scratch is one receive buffer.
        nint d = Scratch(receive.Bytes), mine = d + (nint)(Rank * send.Bytes);
        staging.Upload(send.Pointer, mine, send.Bytes);
        device.AllGather(send with { Pointer = mine }, receive with { Pointer = d });
        staging.Download(d, receive.Pointer, receive.Bytes);
    }

    public void Broadcast(CollectiveBuffer buffer, int root)
    {
        CollectiveChecks.Broadcast(this, buffer, root);
        if (buffer.Count == 0) return;
        nint d = Scratch(buffer.Bytes);
        if (Rank == root) staging.Upload(buffer.Pointer, d, buffer.Bytes);
        device.Broadcast(buffer with { Pointer = d }, root);
        staging.Download(d, buffer.Pointer, buffer.Bytes);
    }

    public void Barrier() => device.Barrier();

    public void Abort(string message, int exitCode) => device.Abort(message, exitCode);

    public void Dispose()
    {
        if (_scratch != 0) staging.Free(_scratch);
        (_scratch, _capacity) = (0, 0);
    }

    /// <summary>The scratch buffer, grown (to a power of two, at least 4 KiB) when <paramref name="bytes"/> do not fit.</summary>
    private nint Scratch(long bytes)
    {
        if (bytes <= _capacity) return _scratch;
        long grown = Math.Max(4096, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)bytes));
        if (_scratch != 0) staging.Free(_scratch);
        (_scratch, _capacity) = (0, 0);
        _scratch = staging.Allocate(grown);
        _capacity = grown;
        return _scratch;
    }
}

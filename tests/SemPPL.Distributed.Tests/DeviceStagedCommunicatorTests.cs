using System.Runtime.InteropServices;

namespace SemPPL.Distributed.Tests;

/// <summary>
/// The host plane of a torchrun-style CUDA job (host arrays staged through one device buffer over NCCL), against a
/// host fake of the device: values land where the device collective reads and writes, the device communicator never
/// sees a host address, and the scratch buffer is allocated only when a call outgrows it.
/// </summary>
public sealed class DeviceStagedCommunicatorTests
{
    [Fact]
    public void AllReduceStagesTheValuesAndReturnsTheDeviceResult()
    {
        var memory = new FakeDeviceMemory();
        using var c = new DeviceStagedCommunicator(new SimulatedRanks(1, 3, memory), memory);
        float[] sum = [1, 2, 3, 4, 5], avg = [6, 8, 10];
        c.AllReduce(sum, ReduceOperation.Sum);
        c.AllReduce(avg, ReduceOperation.Average);
        // The other ranks hold this rank's values + 100 x (their rank - 1): ranks 0, 1, 2 add -100 + 0 + 100.
        Assert.Equal([3, 6, 9, 12, 15], sum);
        Assert.Equal([6, 8, 10], avg);
    }

    [Fact]
    public void AllGatherPutsThisRanksPartAtItsOffsetOfOneDeviceBuffer()
    {
        var memory = new FakeDeviceMemory();
        using var c = new DeviceStagedCommunicator(new SimulatedRanks(2, 3, memory), memory);
        var floats = new float[3 * 2];
        c.AllGather([5f, 7f], floats);
        Assert.Equal([-195f, -193f, -95f, -93f, 5f, 7f], floats);
        var longs = new long[3];
        c.AllGather([1L << 40], longs);
        Assert.Equal([(1L << 40) - 200, (1L << 40) - 100, 1L << 40], longs);
    }

    [Fact]
    public void BroadcastKeepsTheRootsBytesAndGivesTheOthersTheRootsResult()
    {
        var memory = new FakeDeviceMemory();
        using var root = new DeviceStagedCommunicator(new SimulatedRanks(0, 2, memory), memory);
        using var other = new DeviceStagedCommunicator(new SimulatedRanks(1, 2, memory), memory);
        var sent = Enumerable.Range(0, 300).Select(i => (byte)(i * 7 + 3)).ToArray();
        var atRoot = sent.ToArray();
        root.Broadcast(atRoot, 0);
        Assert.Equal(sent, atRoot);
        var atOther = new byte[300];
        other.Broadcast(atOther, 0);
        Assert.Equal(SimulatedRanks.RootBytes(0, 300), atOther);
    }

    [Fact]
    public void TheScratchBufferIsAllocatedOnlyWhenACallOutgrowsItAndFreedOnDispose()
    {
        var memory = new FakeDeviceMemory();
        var c = new DeviceStagedCommunicator(new SimulatedRanks(0, 2, memory), memory);
        c.AllReduce(Array.Empty<float>(), ReduceOperation.Sum);
        Assert.Equal((0, 0L), (memory.Allocations, c.ScratchBytes));

        var loss = new float[4];
        var gathered = new float[2 * 100];
        for (int step = 0; step < 5; step++)
        {
            c.AllReduce(loss, ReduceOperation.Average);
            c.AllGather(new float[100], gathered);
            c.Broadcast(new byte[1000], 0);
            c.Barrier();
        }
        Assert.Equal((1, 4096L), (memory.Allocations, c.ScratchBytes));

        c.Broadcast(new byte[5000], 0);   // a checkpoint's bytes: grows once, to a power of two
        c.AllReduce(loss, ReduceOperation.Sum);
        Assert.Equal((2, 8192L, 1), (memory.Allocations, c.ScratchBytes, memory.Live));
        c.Dispose();
        Assert.Equal(0, memory.Live);
    }

    [Fact]
    public void MisuseIsCheckedBeforeAnythingIsStaged()
    {
        var memory = new FakeDeviceMemory();
        using var c = new DeviceStagedCommunicator(new SimulatedRanks(0, 2, memory), memory);
        var e = Assert.Throws<CommunicatorException>(() => c.AllGather(new float[3], new float[3]));
        Assert.StartsWith("rank 0 of 2: all-gather receives 3 Float32 for 3 Float32 sent", e.Message);
        Assert.Equal(0, memory.Allocations);
    }
}

/// <summary>Device memory simulated in native host memory; allocations start as garbage and are tracked.</summary>
internal sealed unsafe class FakeDeviceMemory : IDeviceStaging
{
    private readonly Dictionary<nint, long> _live = [];

    public int Allocations { get; private set; }

    public int Live => _live.Count;

    public nint Allocate(long bytes)
    {
        nint p = (nint)NativeMemory.Alloc((nuint)bytes);
        new Span<byte>((void*)p, (int)bytes).Fill(0xCD);
        _live[p] = bytes;
        Allocations++;
        return p;
    }

    public void Free(nint device)
    {
        Assert.True(_live.Remove(device), "freed memory that was not allocated");
        NativeMemory.Free((void*)device);
    }

    public void Upload(nint host, nint device, long bytes)
    {
        RequireDevice(device, bytes);
        Buffer.MemoryCopy((void*)host, (void*)device, bytes, bytes);
    }

    public void Download(nint device, nint host, long bytes)
    {
        RequireDevice(device, bytes);
        Buffer.MemoryCopy((void*)device, (void*)host, bytes, bytes);
    }

    public void RequireDevice(nint p, long bytes) =>
        Assert.True(_live.Any(a => p >= a.Key && p + bytes <= a.Key + a.Value), $"{bytes} bytes at {p} are not in device memory");
}

/// <summary>
/// One rank of <paramref name="worldSize"/> on device buffers, computing what the collective would give if every other
/// rank k held this rank's values + 100 x (k - rank); a broadcast from another root gives <see cref="RootBytes"/>.
/// </summary>
internal sealed unsafe class SimulatedRanks(int rank, int worldSize, FakeDeviceMemory memory) : ICommunicator
{
    public int Rank => rank;

    public int WorldSize => worldSize;

    public BufferLocation Location => BufferLocation.CudaDevice;

    public static byte[] RootBytes(int root, int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 11 + root)).ToArray();

    public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation)
    {
        memory.RequireDevice(buffer.Pointer, buffer.Bytes);
        var v = new Span<float>((void*)buffer.Pointer, (int)buffer.Count);
        float offsets = 100f * (worldSize * (worldSize - 1) / 2 - worldSize * rank);
        for (int i = 0; i < v.Length; i++)
        {
            float sum = worldSize * v[i] + offsets;
            v[i] = operation == ReduceOperation.Average ? sum / worldSize : sum;
        }
    }

    public void AllGather(CollectiveBuffer send, CollectiveBuffer receive)
    {
        memory.RequireDevice(receive.Pointer, receive.Bytes);
        Assert.Equal(receive.Pointer + (nint)(rank * send.Bytes), send.Pointer);   // in place
        for (int k = 0; k < worldSize; k++)
            for (long i = 0; i < send.Count; i++)
                if (send.Type == ElementType.Int64) ((long*)receive.Pointer)[k * send.Count + i] = ((long*)send.Pointer)[i] + 100 * (k - rank);
                else ((float*)receive.Pointer)[k * send.Count + i] = ((float*)send.Pointer)[i] + 100 * (k - rank);
    }

    public void Broadcast(CollectiveBuffer buffer, int root)
    {
        memory.RequireDevice(buffer.Pointer, buffer.Bytes);
        if (root != rank) RootBytes(root, (int)buffer.Bytes).CopyTo(new Span<byte>((void*)buffer.Pointer, (int)buffer.Bytes));
    }

    public void Barrier() { }

    public void Abort(string message, int exitCode) => throw new InvalidOperationException(message);

    public void Dispose() { }
}

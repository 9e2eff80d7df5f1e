using SemPPL.Distributed.Nccl;

namespace SemPPL.Distributed.Tests;

public class SingleProcessCommunicatorTests
{
    [Fact]
    public void CollectivesOfOneRankLeaveValuesAndGatherCopies()
    {
        using var c = new SingleProcessCommunicator();
        float[] values = [1.5f, -2f, 3f];
        c.AllReduce(values, ReduceOperation.Average);
        c.AllReduce(values, ReduceOperation.Sum);
        c.Broadcast(values, 0);
        Assert.Equal([1.5f, -2f, 3f], values);
        var gathered = new long[2];
        c.AllGather([7L, 1L << 40], gathered);
        Assert.Equal([7L, 1L << 40], gathered);
    }

    [Fact]
    public void MisuseFailsWithOneMessageNamingTheRank()
    {
        using var c = new SingleProcessCommunicator();
        var e = Assert.Throws<CommunicatorException>(() => c.AllGather(new float[3], new float[4]));
        Assert.Equal("rank 0 of 1: all-gather receives 4 Float32 for 3 Float32 sent; it needs 3 (1 ranks) of the same type", e.Message);
        e = Assert.Throws<CommunicatorException>(() => c.Broadcast(new float[1], 1));
        Assert.Contains("rank 0 of 1: broadcast root 1 is not a rank", e.Message);
        e = Assert.Throws<CommunicatorException>(() => c.AllReduce(new CollectiveBuffer(0, 10, ElementType.Float32), ReduceOperation.Sum));
        Assert.Contains("buffer of 10 elements at address 0 is not valid", e.Message);
    }
}

/// <summary>What a machine without NCCL or a GPU says; the collectives themselves need the GPU check script.</summary>
public class NcclLoadTests
{
    [Fact]
    public void MissingLibraryNamesThePathAndWhereToGetNccl()
    {
        using var host = new SingleProcessCommunicator();
        string path = Path.Combine(Path.GetTempPath(), "no-such-folder", "libnccl.so.2");
        var e = Assert.Throws<CommunicatorException>(() => NcclCommunicator.Create(host, 0, path, TimeSpan.FromSeconds(10)));
        Assert.StartsWith($"rank 0 of 1: NCCL could not be loaded from {path} ({path}: cannot open shared object file", e.Message);
        Assert.Contains("pip install nvidia-nccl-cu13", e.Message);
        Assert.Contains("SEMPPL_NCCL_LIBRARY", e.Message);
    }

    [Fact]
    public void ALibraryThatIsNotNcclIsRefusedByName()
    {
        using var host = new SingleProcessCommunicator();
        var e = Assert.Throws<CommunicatorException>(() => NcclCommunicator.Create(host, 0, "libc.so.6", TimeSpan.FromSeconds(10)));
        Assert.Equal("rank 0 of 1: libc.so.6 does not export ncclGetVersion: an incompatible version", e.Message);
    }

    [Fact]
    public void MissingDriverSaysAGpuIsNeeded()
    {
        var e = Assert.Throws<CommunicatorException>(() => CudaDriver.Load("/no-such-folder/libcuda.so.1"));
        Assert.StartsWith("the NVIDIA driver's /no-such-folder/libcuda.so.1 could not be loaded (/no-such-folder/libcuda.so.1: cannot open shared object file", e.Message);
        Assert.EndsWith("NCCL needs a machine with an NVIDIA GPU and its driver", e.Message);
    }
}

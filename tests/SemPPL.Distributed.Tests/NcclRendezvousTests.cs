using SemPPL.Distributed.Launch;
using SemPPL.Distributed.Nccl;

namespace SemPPL.Distributed.Tests;

/// <summary>A torchrun-style CUDA launch without MPI: where NCCL's bootstrap meets, and what a machine without NCCL says.</summary>
public sealed class NcclRendezvousTests
{
    private static ProcessLaunch TorchRun(string? address, int? port) => new(LaunchSource.TorchRun, 1, 2, 1, 1, address, port);

    [Fact]
    public void TheRendezvousIsMasterAddrAndPortUnlessNcclCommIdIsSet()
    {
        Assert.Equal("node-a:29500", JobCommunicators.NcclRendezvous(TorchRun("node-a", 29500), null));
        Assert.Equal("[fd00::1]:29500", JobCommunicators.NcclRendezvous(TorchRun("fd00::1", 29500), null));
        Assert.Equal("10.0.0.5:29511", JobCommunicators.NcclRendezvous(TorchRun("node-a", 29500), " 10.0.0.5:29511 "));
        Assert.Equal("10.0.0.5:29511", JobCommunicators.NcclRendezvous(TorchRun(null, null), "10.0.0.5:29511"));
    }

    [Theory]
    [InlineData(null, 29500, "MASTER_ADDR")]
    [InlineData("node-a", null, "MASTER_PORT")]
    public void AMissingVariableIsNamedBeforeAnyEngineLoads(string? address, int? port, string missing)
    {
        // Open fails here, on a machine without MPI, NCCL or a GPU: it tried neither.
        var e = Assert.Throws<CommunicatorException>(() => JobCommunicators.Open(TorchRun(address, port), cuda: true, TimeSpan.FromSeconds(5), 5));
        Assert.StartsWith("rank 1 of 2: a torchrun-style launch on CUDA joins NCCL at MASTER_ADDR:MASTER_PORT", e.Message);
        Assert.EndsWith($"but {missing} is not set", e.Message);
    }

    [Fact]
    public void TheRendezvousReachesNativeCodeAndAMissingNcclIsNamedWithTheRank()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-folder", "libnccl.so.2");
        var e = Assert.Throws<CommunicatorException>(() =>
            NcclCommunicator.CreateAtRendezvous(1, 2, "127.0.0.1:29517", 0, path, TimeSpan.FromSeconds(5), 5));
        Assert.StartsWith($"rank 1 of 2: NCCL could not be loaded from {path}", e.Message);
        Assert.Equal("127.0.0.1:29517", NativeEnvironment.Get(NcclCommunicator.CommIdVariable));
    }
}

public sealed class NativeEnvironmentTests
{
    [Fact]
    public void AVariableSetForNativeCodeIsWhatGetenvReturns()
    {
        string name = $"SEMPPL_TEST_NATIVE_{Environment.ProcessId}_{Guid.NewGuid():N}";
        Assert.Null(NativeEnvironment.Get(name));
        NativeEnvironment.Set(name, "host:1234");
        Assert.Equal("host:1234", NativeEnvironment.Get(name));
        NativeEnvironment.Set(name, "other:1");
        Assert.Equal("other:1", NativeEnvironment.Get(name));
        // Why the libc call exists: .NET's copy of the environment does not see it.
        Assert.Null(Environment.GetEnvironmentVariable(name));
    }

    [Fact]
    public void ANameTheCLibraryRefusesIsOneMessage()
    {
        var e = Assert.Throws<CommunicatorException>(() => NativeEnvironment.Set("A=B", "x"));
        Assert.StartsWith("setenv(A=B) failed (errno ", e.Message);
    }
}

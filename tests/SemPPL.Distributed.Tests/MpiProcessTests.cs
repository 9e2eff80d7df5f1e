namespace SemPPL.Distributed.Tests;

/// <summary>MpiCommunicator at 2 ranks under mpirun: values, a killed rank, a hung rank.</summary>
public class MpiProcessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [MpirunFact]
    public void CollectivesAtTwoRanksGiveTheExpectedValuesOnEveryRank()
    {
        var r = MpiRun.Probe(2, TimeSpan.FromMinutes(2), "collectives");
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains("rank 0 of 2: collectives ok", r.Output);
        Assert.Contains("rank 1 of 2: collectives ok", r.Output);
    }

    [MpirunFact]
    public void AKilledRankEndsTheJobWithAMessageNamingIt()
    {
        // Rank 1 SIGKILLs itself while rank 0 waits in an all-reduce; the watchdog (50 s) would be the fallback.
        var r = MpiRun.Probe(2, TimeSpan.FromMinutes(2), "die", "50");
        Assert.NotEqual(0, r.ExitCode);
        Assert.True(r.Elapsed < Bound, $"took {r.Elapsed}");
        Assert.Matches(@"rank 1 .*exited on signal 9", r.Output);
        Assert.DoesNotContain("returned although", r.Output);
    }

    [MpirunFact]
    public void NcclFromAMissingFileFailsOnEveryRankNamingTheRankAndTheVariable()
    {
        var r = MpiRun.Probe(2, TimeSpan.FromMinutes(2), new Dictionary<string, string> { ["SEMPPL_NCCL_LIBRARY"] = "/no-such-folder/libnccl.so.2" }, "nccl", "10");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Matches(@"rank [01] of 2: NCCL could not be loaded from /no-such-folder/libnccl.so.2 \(/no-such-folder/libnccl.so.2: cannot open shared object file", r.Output);
        Assert.Contains("set SEMPPL_NCCL_LIBRARY to that file", r.Output);
    }

    [MpirunFact]
    public void ATorchRunStyleLaunchOnTheCpuIsRefusedNamingTheLauncherItNeeds()
    {
        // No mpirun: MPI starts as a singleton (rank 0 of 1), which contradicts RANK/WORLD_SIZE; only CUDA runs without MPI.
        var r = MpiRun.ProbeAlone(TimeSpan.FromMinutes(1), new Dictionary<string, string> { ["RANK"] = "1", ["WORLD_SIZE"] = "2", ["LOCAL_RANK"] = "1" }, "open-cpu", "10");
        Assert.True(r.ExitCode == 1, r.Output);
        Assert.Contains("the launcher's variables say rank 1 of 2 (local rank 1, TorchRun) but MPI sees rank 0 of 1: start the job with mpirun or srun --mpi=pmix "
                        + "(a torchrun-style launch without MPI needs CUDA and NCCL)", r.Output);
    }

    [MpirunFact]
    public void AHungRankMakesTheOtherExitWithinTheTimeoutNamingItself()
    {
        var r = MpiRun.Probe(2, TimeSpan.FromMinutes(2), "hang", "3");
        Assert.NotEqual(0, r.ExitCode);
        Assert.True(r.Elapsed < Bound, $"took {r.Elapsed}");
        Assert.Contains("rank 0 of 2: MPI_Allreduce did not complete within 3 s: another rank died or stopped responding", r.Output);
        Assert.Contains("Exit code:    5", r.Output);
    }
}

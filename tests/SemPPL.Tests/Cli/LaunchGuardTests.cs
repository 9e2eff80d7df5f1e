using SemPPL.Tests.TestConfigs;

namespace SemPPL.Tests.Cli;

/// <summary>
/// Launches that cannot join a job are refused before anything is written: `baseline` runs in one process only, and
/// `train` with launcher variables but no MPI job behind them (a torchrun-style launch on the CPU) names the fix.
/// </summary>
public class LaunchGuardTests
{
    [Theory]
    [InlineData("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "rank 1 of 2 (local rank 1, OpenMpi)")]
    [InlineData("RANK", "WORLD_SIZE", "LOCAL_RANK", "rank 1 of 2 (local rank 1, TorchRun)")]
    public void Baseline_as_one_of_two_ranks_is_refused_and_writes_nothing(string rank, string size, string local, string named)
    {
        using var run = new TempRun("cli-ranks");
        string config = Path.Combine(Path.GetTempPath(), $"semppl-ranks-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(config, TinyConfig.Yaml);
        try
        {
            var env = new Dictionary<string, string> { [rank] = "1", [size] = "2", [local] = "1" };
            var (code, _, stderr) = SempplProcess.Run(env, "baseline", "--config", config, "--out", run.Root);
            Assert.Equal(2, code);
            Assert.StartsWith($"semppl: launch: started as {named}: this command runs in one process", stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.False(Directory.Exists(run.Root), "the run folder was created");
        }
        finally { File.Delete(config); }
    }

    [Fact]
    public void Train_with_launcher_variables_but_no_mpi_job_names_mpirun_and_writes_nothing()
    {
        using var run = new TempRun("cli-torchrun");
        string config = run.WriteConfig();
        var env = new Dictionary<string, string> { ["RANK"] = "1", ["WORLD_SIZE"] = "2", ["LOCAL_RANK"] = "1" };
        var (code, _, stderr) = SempplProcess.Run(env, "train", "--config", config, "--out", run.Root, "--no-eval");
        Assert.Equal(7, code);
        Assert.Contains("rank 1 of 2 (local rank 1, TorchRun) but MPI sees rank 0 of 1: start the job with mpirun", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(Directory.Exists(run.Root), "the run folder was created");
    }

    [Fact]
    public void Malformed_launcher_variables_name_the_variable()
    {
        var env = new Dictionary<string, string> { ["SLURM_PROCID"] = "3", ["SLURM_STEP_NUM_TASKS"] = "2", ["SLURM_LOCALID"] = "0" };
        var (code, _, stderr) = SempplProcess.Run(env, "baseline", "--config", "no-such.yaml");
        Assert.Equal(2, code);
        Assert.Contains("semppl: launch: SLURM_PROCID=3 is not below SLURM_STEP_NUM_TASKS=2", stderr);
    }
}

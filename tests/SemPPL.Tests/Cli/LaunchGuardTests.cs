using SemPPL.Tests.TestConfigs;

namespace SemPPL.Tests.Cli;

/// <summary>semppl train as one of several ranks: refused before anything is written (the data-parallel step is not built yet).</summary>
public class LaunchGuardTests
{
    [Theory]
    [InlineData("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "rank 1 of 2 (local rank 1, OpenMpi)")]
    [InlineData("RANK", "WORLD_SIZE", "LOCAL_RANK", "rank 1 of 2 (local rank 1, TorchRun)")]
    public void Train_as_one_of_two_ranks_is_refused_and_writes_nothing(string rank, string size, string local, string named)
    {
        using var run = new TempRun("cli-ranks");
        string config = Path.Combine(Path.GetTempPath(), $"semppl-ranks-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(config, TinyConfig.Yaml);
        try
        {
            var env = new Dictionary<string, string> { [rank] = "1", [size] = "2", [local] = "1" };
            var (code, _, stderr) = SempplProcess.Run(env, "train", "--config", config, "--out", run.Root, "--no-eval");
            Assert.Equal(2, code);
            Assert.StartsWith($"semppl: launch: started as {named}: this version trains in one process", stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.False(Directory.Exists(run.Root), "the run folder was created");
        }
        finally { File.Delete(config); }
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

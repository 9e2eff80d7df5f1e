using SemPPL.Distributed.Launch;

namespace SemPPL.Distributed.Tests;

public class LaunchTests
{
    private static ProcessLaunch Read(params (string Name, string Value)[] variables) =>
        ProcessLaunch.FromVariables(variables.ToDictionary(v => v.Name, v => (string?)v.Value));

    [Fact]
    public void NoLauncherVariablesIsOneProcess()
    {
        var launch = Read(("PATH", "/usr/bin"), ("CUDA_VISIBLE_DEVICES", "3"));
        Assert.Same(ProcessLaunch.Single, launch);
        Assert.False(launch.IsDistributed);
        Assert.True(launch.IsPrimary);
    }

    [Fact]
    public void OpenMpiVariablesGiveRankSizeLocalRankAndDevice()
    {
        var launch = Read(("OMPI_COMM_WORLD_RANK", "5"), ("OMPI_COMM_WORLD_SIZE", "8"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"));
        Assert.Equal(new ProcessLaunch(LaunchSource.OpenMpi, 5, 8, 1, 1), launch);
        Assert.True(launch.IsDistributed);
        Assert.False(launch.IsPrimary);
    }

    [Fact]
    public void OpenMpiWinsOverTheSlurmAllocationItRunsIn()
    {
        var launch = Read(("SLURM_PROCID", "0"), ("SLURM_STEP_NUM_TASKS", "1"), ("SLURM_LOCALID", "0"),
                          ("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_LOCAL_RANK", "3"));
        Assert.Equal((LaunchSource.OpenMpi, 3, 4, 3), (launch.Source, launch.Rank, launch.WorldSize, launch.LocalRank));
    }

    [Fact]
    public void TorchRunWinsOverSlurmAndKeepsTheRendezvous()
    {
        var launch = Read(("SLURM_PROCID", "1"), ("SLURM_STEP_NUM_TASKS", "2"), ("SLURM_LOCALID", "0"),
                          ("RANK", "9"), ("WORLD_SIZE", "16"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "node-a"), ("MASTER_PORT", "29500"));
        Assert.Equal(new ProcessLaunch(LaunchSource.TorchRun, 9, 16, 1, 1, "node-a", 29500), launch);
    }

    [Fact]
    public void SlurmAloneIsRead()
    {
        var launch = Read(("SLURM_PROCID", "6"), ("SLURM_STEP_NUM_TASKS", "8"), ("SLURM_NTASKS", "8"), ("SLURM_LOCALID", "2"));
        Assert.Equal(new ProcessLaunch(LaunchSource.Slurm, 6, 8, 2, 2), launch);
    }

    [Fact]
    public void ASlurmBatchScriptIsOneProcessDespiteTheAllocationsTaskCount()
    {
        // What sbatch --ntasks=4 gives the script itself: no srun step variables.
        var launch = Read(("SLURM_JOB_ID", "200505"), ("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4"), ("SLURM_LOCALID", "0"));
        Assert.Same(ProcessLaunch.Single, launch);
    }

    [Fact]
    public void ARankWithoutAWorldSizeIsNoLaunch()
    {
        Assert.Same(ProcessLaunch.Single, Read(("RANK", "3")));
    }

    [Fact]
    public void OneVisibleGpuIsDeviceZeroWhateverTheLocalRank()
    {
        var launch = Read(("SLURM_PROCID", "3"), ("SLURM_STEP_NUM_TASKS", "4"), ("SLURM_LOCALID", "3"), ("CUDA_VISIBLE_DEVICES", "3"));
        Assert.Equal(0, launch.CudaDevice);
        var shared = Read(("SLURM_PROCID", "3"), ("SLURM_STEP_NUM_TASKS", "4"), ("SLURM_LOCALID", "3"), ("CUDA_VISIBLE_DEVICES", "0,1,2,3"));
        Assert.Equal(3, shared.CudaDevice);
    }

    [Fact]
    public void WorldSizeOneFromALauncherIsNotDistributed()
    {
        var launch = Read(("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "1"), ("OMPI_COMM_WORLD_LOCAL_RANK", "0"));
        Assert.False(launch.IsDistributed);
    }

    [Theory]
    [InlineData("RANK", null, "WORLD_SIZE", "2", "LOCAL_RANK", "0", "WORLD_SIZE is set but RANK is not")]
    [InlineData("RANK", "2", "WORLD_SIZE", "2", "LOCAL_RANK", "0", "RANK=2 is not below WORLD_SIZE=2")]
    [InlineData("RANK", "-1", "WORLD_SIZE", "2", "LOCAL_RANK", "0", "RANK='-1' is not a whole number >= 0")]
    [InlineData("SLURM_PROCID", "1", "SLURM_STEP_NUM_TASKS", "two", "SLURM_LOCALID", "0", "SLURM_STEP_NUM_TASKS='two' is not a whole number >= 1")]
    [InlineData("SLURM_PROCID", "1", "SLURM_STEP_NUM_TASKS", "2", "SLURM_LOCALID", null, "SLURM_LOCALID is not")]
    [InlineData("OMPI_COMM_WORLD_RANK", "1", "OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_LOCAL_RANK", "2", "OMPI_COMM_WORLD_LOCAL_RANK=2 is above OMPI_COMM_WORLD_RANK=1")]
    public void BadVariablesNameTheVariable(string rankName, string? rank, string sizeName, string? size, string localName, string? local, string message)
    {
        var variables = new Dictionary<string, string?> { [rankName] = rank, [sizeName] = size, [localName] = local };
        var e = Assert.Throws<LaunchException>(() => ProcessLaunch.FromVariables(variables));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void BadMasterPortIsNamed()
    {
        var e = Assert.Throws<LaunchException>(() => Read(("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0"), ("MASTER_PORT", "70000")));
        Assert.Contains("MASTER_PORT='70000'", e.Message);
    }
}

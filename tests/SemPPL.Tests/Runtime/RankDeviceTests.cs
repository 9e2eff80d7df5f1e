using SemPPL.Distributed.Launch;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

/// <summary>Which device a rank runs on: its own GPU in a multi-rank launch, the configured one otherwise.</summary>
public class RankDeviceTests
{
    private static readonly ProcessLaunch Rank3 = ProcessLaunch.FromVariables(new Dictionary<string, string?>
    {
        ["OMPI_COMM_WORLD_RANK"] = "7", ["OMPI_COMM_WORLD_SIZE"] = "8", ["OMPI_COMM_WORLD_LOCAL_RANK"] = "3",
    });

    [Theory]
    [InlineData("auto")]
    [InlineData("cpu")]
    [InlineData("cuda")]
    [InlineData("cuda:2")]
    public void One_process_keeps_the_configured_device_exactly(string device)
    {
        var d = ExecutionDevice.Parse(device);
        Assert.Equal(d, d.ForRank(ProcessLaunch.Single));
    }

    [Theory]
    [InlineData("cuda", "cuda:3")]
    [InlineData("cuda:0", "cuda:3")]
    [InlineData("cuda:5", "cuda:3")]
    public void A_rank_takes_the_gpu_of_its_local_rank(string device, string expected)
    {
        Assert.Equal(ExecutionDevice.Parse(expected), ExecutionDevice.Parse(device).ForRank(Rank3));
    }

    [Fact]
    public void Auto_keeps_its_fallback_but_aims_at_the_ranks_gpu_and_cpu_stays_cpu()
    {
        Assert.Equal(new ExecutionDevice(DeviceKind.Auto, 3), ExecutionDevice.Auto.ForRank(Rank3));
        Assert.Equal(ExecutionDevice.Cpu, ExecutionDevice.Cpu.ForRank(Rank3));
    }
}

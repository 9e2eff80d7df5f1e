using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

[Collection(TinyRunCollection.Name)]
public class DeviceTests
{
    private static bool CudaWorksHere()
    {
        if (!SessionFactory.CudaProviderAvailable) return false;
        try { using var f = new SessionFactory(ExecutionDevice.Cuda(0), notice: _ => { }); return true; }
        catch (DeviceUnavailableException) { return false; }
    }

    [Fact]
    public void Cuda_without_cuda_fails_clearly_before_reading_data()
    {
        if (CudaWorksHere()) return; // a GPU machine: nothing to check here
        using var run = new TempRun("cuda");
        var config = TinyConfig.Create(c => c.Device = "cuda");
        var e = Assert.Throws<DeviceUnavailableException>(() => RunSetup.Prepare(config, run.Folder, resume: false, _ => { }));
        Assert.Contains("'cuda:0'", e.Message);
        if (!SessionFactory.CudaProviderAvailable) Assert.Contains("set device: cpu", e.Message); // the CPU package: says how to get going
        // Before any data, split or artifact work: the run folder was not even created.
        Assert.False(Directory.Exists(run.Root), "the run folder was written before the device check");
    }

    [Fact]
    public void Auto_runs_on_the_cpu()
    {
        if (CudaWorksHere()) return;
        using var run = new TempRun("auto");
        var log = new List<string>();
        var config = TinyConfig.Create(c => { c.Device = "auto"; c.Training.Steps = 2; c.Training.WarmupSteps = 1; });
        var (_, result) = TinyTraining.Run(config, run.Folder, log: log);
        Assert.Equal(2, result.FinalStep);
        Assert.Contains("device: cpu", log);
        Assert.True(double.IsFinite(result.Last!.Loss));
    }
}

using Microsoft.ML.OnnxRuntime;
using SemPPL.Config;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

public class DeviceSelectionTests
{
    [Theory]
    [InlineData("auto", DeviceKind.Auto, 0)]
    [InlineData("cpu", DeviceKind.Cpu, 0)]
    [InlineData(" CUDA ", DeviceKind.Cuda, 0)]
    [InlineData("cuda:0", DeviceKind.Cuda, 0)]
    [InlineData("cuda:3", DeviceKind.Cuda, 3)]
    public void Parses_allowed_values(string text, DeviceKind kind, int id)
    {
        var d = ExecutionDevice.Parse(text);
        Assert.Equal(kind, d.Kind);
        Assert.Equal(id, d.DeviceId);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("")]
    public void Bad_value_names_key_value_and_allowed(string text)
    {
        var e = Assert.Throws<ConfigException>(() => ExecutionDevice.Parse(text));
        Assert.Contains("device:", e.Message);
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("auto, cpu, cuda, cuda:N", e.Message);
    }

    [Fact]
    public void Cpu_gives_cpu_sessions_with_processor_count_threads()
    {
        using var f = new SessionFactory(ExecutionDevice.Cpu);
        Assert.False(f.IsCuda);
        Assert.Null(f.FallbackReason);
        Assert.Equal(Environment.ProcessorCount, f.IntraOpThreads);
        Assert.Equal("Cpu", f.DeviceMemoryInfo.Name);
        using var o = f.CreateOptions();
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, o.GraphOptimizationLevel);
        Assert.Equal(ExecutionMode.ORT_SEQUENTIAL, o.ExecutionMode);
        Assert.Equal(Environment.ProcessorCount, o.IntraOpNumThreads);

        using var f1 = new SessionFactory(ExecutionDevice.Cpu, new SessionSettings { IntraOpThreads = 1 });
        using var o1 = f1.CreateOptions();
        Assert.Equal(1, o1.IntraOpNumThreads);
    }

    [Fact]
    public void Auto_without_a_usable_gpu_falls_back_to_cpu()
    {
        var notices = new List<string>();
        using var f = new SessionFactory(ExecutionDevice.Auto, notice: notices.Add);
        // This machine has no GPU. With the CPU package there is no CUDA provider: silent CPU.
        // With the GPU package (-p:OrtGpu=true) the provider exists but cannot start: a reason and one notice.
        if (SessionFactory.CudaProviderAvailable && f.IsCuda) return; // a real GPU: nothing to check here
        Assert.False(f.IsCuda);
        if (SessionFactory.CudaProviderAvailable)
        {
            Assert.False(string.IsNullOrWhiteSpace(f.FallbackReason));
            var line = Assert.Single(notices);
            Assert.Contains(f.FallbackReason!, line);
            Assert.Contains("CPU", line);
        }
        else
        {
            Assert.Null(f.FallbackReason);
            Assert.Empty(notices);
        }
        Assert.StartsWith("cpu", f.Description);
    }

    [Fact]
    public void Explicit_cuda_that_cannot_start_is_a_clear_error()
    {
        if (SessionFactory.CudaProviderAvailable)
        {
            try { using var ok = new SessionFactory(ExecutionDevice.Cuda(0)); return; } // a real GPU
            catch (DeviceUnavailableException e) { Assert.Contains("device: 'cuda:0' could not start CUDA", e.Message); return; }
        }
        var ex = Assert.Throws<DeviceUnavailableException>(() => new SessionFactory(ExecutionDevice.Parse("cuda:1")));
        Assert.Contains("device: 'cuda:1'", ex.Message);
        Assert.Contains("no CUDA execution provider", ex.Message);
        Assert.Contains("CPUExecutionProvider", ex.Message);
    }
}

using Microsoft.ML.OnnxRuntime;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

/// <summary>The environment knobs of <see cref="SessionFactory"/> (tested through their parsers: the variables are process-wide).</summary>
public class SessionKnobTests
{
    [Theory]
    [InlineData(null, GraphOptimizationLevel.ORT_ENABLE_ALL)]
    [InlineData("", GraphOptimizationLevel.ORT_ENABLE_ALL)]
    [InlineData(" All ", GraphOptimizationLevel.ORT_ENABLE_ALL)]
    [InlineData("extended", GraphOptimizationLevel.ORT_ENABLE_EXTENDED)]
    [InlineData("BASIC", GraphOptimizationLevel.ORT_ENABLE_BASIC)]
    [InlineData("disable", GraphOptimizationLevel.ORT_DISABLE_ALL)]
    [InlineData("none", GraphOptimizationLevel.ORT_DISABLE_ALL)]
    public void Optimisation_level_values(string? value, GraphOptimizationLevel expected) =>
        Assert.Equal(expected, SessionFactory.ParseOptimizationLevel(value));

    [Theory]
    [InlineData(null, "HEURISTIC")]
    [InlineData("exhaustive", "EXHAUSTIVE")]
    [InlineData(" Default ", "DEFAULT")]
    public void Conv_algorithm_search_values(string? value, string expected) =>
        Assert.Equal(expected, SessionFactory.ParseConvAlgorithmSearch(value));

    [Fact]
    public void Bad_values_name_the_variable_the_value_and_what_is_valid()
    {
        var a = Assert.Throws<ArgumentException>(() => SessionFactory.ParseOptimizationLevel("fast"));
        Assert.Contains(SessionFactory.OptimizationVariable, a.Message);
        Assert.Contains("'fast'", a.Message);
        Assert.Contains("disable, basic, extended or all", a.Message);
        var b = Assert.Throws<ArgumentException>(() => SessionFactory.ParseConvAlgorithmSearch("quick"));
        Assert.Contains(SessionFactory.ConvAlgorithmSearchVariable, b.Message);
        Assert.Contains("'QUICK'", b.Message);
        Assert.Contains("HEURISTIC, EXHAUSTIVE or DEFAULT", b.Message);
    }

    [Fact]
    public void Cpu_bindings_rebind_nothing_and_each_run_reads_the_staging_buffer()
    {
        // On the CPU a binding reads the host buffers themselves; only CUDA bindings list host inputs to bind again
        // (ORT copies a host input to CUDA at bind time: docs/benchmarks.md, GPU).
        using var factory = new SessionFactory(ExecutionDevice.Parse("cpu"));
        using var runner = new GraphRunner(factory, TestGraphs.Counter(), "counter");
        using var state = new DeviceState(factory);
        var s = state.Add(DeviceTensor.AllocateHost(factory, "state", SemPPL.GraphGen.Onnx.DType.Float, 4));
        var x = state.Add(DeviceTensor.AllocateHost(factory, "x", SemPPL.GraphGen.Onnx.DType.Float, 4));
        s.HostSpan<float>().Fill(1f);
        x.HostSpan<float>().Fill(2f);
        using var binding = runner.Bind(new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = x });
        Assert.Empty(binding.HostInputs);
        binding.Run();
        Assert.Equal([3f, 3f, 3f, 3f], binding.Output("state_out").Download().Floats);
        x.HostSpan<float>().Fill(5f);
        binding.Run();
        Assert.Equal([6f, 6f, 6f, 6f], binding.Output("state_out").Download().Floats);
    }
}

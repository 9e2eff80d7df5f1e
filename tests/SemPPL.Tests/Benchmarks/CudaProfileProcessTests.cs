using SemPPL.Tests.Cli;

namespace SemPPL.Tests.Benchmarks;

/// <summary>
/// `SemPPL.Benchmarks cuda-profile` end to end on the CPU at a tiny size, so the prepared GPU check
/// (scripts/gpu/check-cuda.sh, section profile) cannot rot between GPU sessions: every section runs, every
/// alternative form is built, run and checked against its reference or today's form.
/// </summary>
public sealed class CudaProfileProcessTests
{
    private static string Bench() => SempplProcess.BuiltDll(Path.Combine("tests", "SemPPL.Benchmarks"), "SemPPL.Benchmarks.dll");

    [Fact]
    public void Every_section_runs_on_the_cpu_at_a_tiny_size()
    {
        var (code, stdout, stderr) = SempplProcess.RunDll(Bench(),
            ["cuda-profile", "--device", "cpu", "--case", "quickstart", "--forms", "two_stage", "--batch", "2", "--size", "32",
             "--warmup", "0", "--runs", "1", "--threads", "1"], 300_000);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.DoesNotContain("FAILED", stdout);
        foreach (var expected in new[]
                 {
                     "== profile", "model.channel_reduction: two_stage", "ORT profile of target.onnx", "ORT profile of train.onnx", "all reductions:",
                     "== reduce", "all 53 BatchNorm layers, one reduction each",
                     "== bn", "fused: not available on this EP",
                     "== wgrad", "7x7/2 stem", "position_major", "batched_1x1", "dilated",
                     "== upload", "pageable vs pinned: not applicable on this EP",
                 })
            Assert.Contains(expected, stdout);
    }

    [Fact]
    public void An_unknown_section_is_one_message_and_exit_code_2()
    {
        var (code, stdout, stderr) = SempplProcess.RunDll(Bench(), ["cuda-profile", "--device", "cpu", "--sections", "reduce,nope"]);
        Assert.Equal(2, code);
        Assert.Contains("unknown section(s) nope", stderr);
        Assert.DoesNotContain("   at ", stderr + stdout);
    }
}

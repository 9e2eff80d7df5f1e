using System.Diagnostics;
using SemPPL.Tests.Cli;
using SemPPL.Tests.Reference;

namespace SemPPL.Tests.Benchmarks;

/// <summary>
/// The prepared GPU check's "measure first" section (scripts/gpu/check-cuda.sh, SEMPPL_GPU_CHECKS=profile) end to end
/// on the CPU at a tiny size, on this build, so the script and `SemPPL.Benchmarks cuda-profile` cannot rot between GPU
/// sessions: every section runs, and every alternative form is built, run and checked against its reference or
/// today's form (a MISMATCH would fail the subcommand's exit code).
/// </summary>
public sealed class CudaProfileProcessTests
{
    private static string Bench() => SempplProcess.BuiltDll(Path.Combine("tests", "SemPPL.Benchmarks"), "SemPPL.Benchmarks.dll");

    [Fact]
    public async Task The_check_script_runs_every_cuda_profile_section_on_the_cpu()
    {
        string root = ReferenceHarness.RepoRoot();
        string bin = Directory.CreateTempSubdirectory("semppl-gpu-bin-").FullName, output = Directory.CreateTempSubdirectory("semppl-gpu-out-").FullName;
        try
        {
            Directory.CreateSymbolicLink(Path.Combine(bin, "cli"), Path.GetDirectoryName(SempplProcess.Dll())!);
            Directory.CreateSymbolicLink(Path.Combine(bin, "bench"), Path.GetDirectoryName(Bench())!);
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(root, "scripts", "gpu", "check-cuda.sh"));
            foreach (var (k, v) in new Dictionary<string, string>
                     {
                         ["SEMPPL_GPU_BIN"] = bin, ["SEMPPL_GPU_DEVICE"] = "cpu", ["SEMPPL_GPU_CHECKS"] = "profile", ["OUT"] = output,
                         ["PROFILE_CASE"] = "quickstart", ["PROFILE_FORMS"] = "two_stage", ["R50_BATCH"] = "2", ["PROFILE_SIZE"] = "32",
                     })
                psi.Environment[k] = v;
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(300_000), "check-cuda.sh did not finish in 5 minutes");
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{await stdout}\n{await stderr}");

            string log = File.ReadAllText(Path.Combine(output, "check-cuda.log"));
            Assert.Contains("cuda-profile (graphs) exit code: 0", log);
            Assert.Contains("cuda-profile (kernels) exit code: 0", log);
            string graphs = File.ReadAllText(Path.Combine(output, "cuda-profile-graphs.log"));
            string kernels = File.ReadAllText(Path.Combine(output, "cuda-profile-kernels.log"));
            Assert.DoesNotContain("FAILED", graphs + kernels);
            Assert.DoesNotContain("MISMATCH", graphs + kernels);
            foreach (var expected in new[] { "model.channel_reduction: two_stage", "ORT profile of target.onnx", "ORT profile of train.onnx", "all reductions:" })
                Assert.Contains(expected, graphs);
            // the product kernels' line (the step's floor in `step --profile`): each profiled graph has convolutions, so a share above 0
            var products = System.Text.RegularExpressions.Regex.Matches(graphs, @"all products \(Conv, ConvTranspose, MatMul, FusedMatMul, Gemm\): ([0-9.]+) ms/run \(([0-9.]+)%\)");
            Assert.True(products.Count >= 2, graphs);
            Assert.All(products, m => Assert.InRange(double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), 0.1, 99.9));
            foreach (var expected in new[]
                     {
                         "== reduce", "all 53 BatchNorm layers, one reduction each",
                         "== bn", "fused: not available on this EP",
                         "== wgrad", "7x7/2 stem", "position_major", "batched_1x1", "dilated",
                         "== upload", "pageable vs pinned: not applicable on this EP",
                     })
                Assert.Contains(expected, kernels);
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
            Directory.Delete(output, recursive: true);
        }
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

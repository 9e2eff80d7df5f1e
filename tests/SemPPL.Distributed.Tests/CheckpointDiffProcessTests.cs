using System.Diagnostics;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Distributed.Tests;

/// <summary>`SemPPL.Benchmarks checkpoint-diff`, which the GPU check uses to call a 1-rank NCCL run identical to the plain one.</summary>
public sealed class CheckpointDiffProcessTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("semppl-ckdiff-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, float[] w, long count)
    {
        string path = Path.Combine(_folder, name);
        TensorFile.Write(path, [("w", HostTensor.Float([2, 3], w)), ("count", HostTensor.Int64([1], [count]))],
                         new Dictionary<string, string> { ["step"] = "20", ["note"] = name });
        return path;
    }

    private static (int Code, string Output) Diff(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(SiblingBuild.Dll("SemPPL.Benchmarks", "SemPPL.Benchmarks.dll"));
        psi.ArgumentList.Add("checkpoint-diff");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "checkpoint-diff did not finish in 60 s");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void BitIdenticalTensorsAreExitCode0WhateverTheMetadata()
    {
        var (code, output) = Diff(Write("a.spt", [1, 2, 3, 4, 5, 6], 7), Write("b.spt", [1, 2, 3, 4, 5, 6], 7));
        Assert.True(code == 0, output);
        Assert.Contains("metadata note: A a.spt, B b.spt", output);
        Assert.Contains("identical: all 2 tensors bit for bit", output);
    }

    [Fact]
    public void ADifferenceIsMeasuredPerTensorAndExitCode1()
    {
        // 3 -> 3 + 1 ulp-scale change and -0 vs +0: bit differences count, even where the values compare equal.
        float nudged = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(3f) + 1);
        var (code, output) = Diff(Write("a.spt", [1, 0f, 3, 4, 5, 6], 7), Write("b.spt", [1, -0f, nudged, 4, 5, 6.5f], 8));
        Assert.True(code == 1, output);
        Assert.Contains("w: DIFFERENT in 3 of 6 elements: max abs 0.5, max rel 0.07692", output);
        Assert.Contains("count: DIFFERENT in 1 of 1 elements: max abs 1, max rel 0.125", output);
        Assert.Contains("DIFFERENT: 2 of 2 tensors", output);
    }

    [Fact]
    public void AMissingCheckpointIsOneMessageAndExitCode2()
    {
        var (code, output) = Diff(Write("a.spt", [1, 2, 3, 4, 5, 6], 7), _folder);
        Assert.Equal(2, code);
        Assert.Contains($"run folder '{_folder}' has no checkpoint in checkpoints/", output);
        Assert.DoesNotContain("   at ", output);
    }
}

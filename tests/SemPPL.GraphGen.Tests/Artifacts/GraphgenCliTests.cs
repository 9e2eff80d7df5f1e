using SemPPL.GraphGen.Artifacts;
using System.Diagnostics;
using static SemPPL.GraphGen.Tests.Artifacts.OnnxBackboneConfigs;

namespace SemPPL.GraphGen.Tests.Artifacts;

/// <summary>The graphgen CLI (graphgen.dll run as a child process): errors, exit codes, and what it leaves on disk.</summary>
public sealed class GraphgenCliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "semppl-graphgen-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public GraphgenCliTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    [Theory]
    [InlineData("width: 0.25", "width: -1", "model.width", "-1", "[1/64, 16]")]
    [InlineData("name: lars", "name: adam", "optimizer.name", "adam", "lars")]
    public void Invalid_config_prints_one_message_naming_key_value_and_allowed_and_writes_nothing(
        string from, string to, string key, string value, string allowed)
    {
        string yaml = File.ReadAllText(Path.Combine(RepoRoot(), "configs", "quickstart.yaml"));
        Assert.Contains(from, yaml);
        string config = Path.Combine(_root, "bad.yaml");
        File.WriteAllText(config, yaml.Replace(from, to));
        string outDir = Path.Combine(_root, "out");

        var (code, stdout, stderr) = Graphgen("--config", config, "--out", outDir);

        Assert.NotEqual(0, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one message, got:\n{stderr}");
        Assert.Contains(key, lines[0]);
        Assert.Contains(value, lines[0]);
        Assert.Contains(allowed, lines[0]);
        Assert.DoesNotContain(" at ", stderr); // no stack trace
        Assert.Equal("", stdout.Trim());
        Assert.Equal(["bad.yaml"], Directory.GetFileSystemEntries(_root).Select(e => Path.GetFileName(e)).ToArray());
    }

    [Fact]
    public void Late_build_failure_exits_non_zero_and_leaves_no_half_written_set()
    {
        string bad = OnnxBackboneArtifactTests.UnsupportedOpBackbone(_root);
        string config = Path.Combine(_root, "late.yaml");
        File.WriteAllText(config, Yaml(bad));
        string outDir = Path.Combine(_root, "out");

        var (code, _, stderr) = Graphgen("--config", config, "--out", outDir, "--labelled-images", LabelledImages.ToString());

        Assert.Equal(1, code);
        Assert.Contains("Celu", stderr);
        Assert.Contains("no artifact set was written", stderr);
        Assert.DoesNotContain(" at ", stderr);
        Assert.False(Directory.Exists(outDir));
        Assert.Equal(["bad_backbone.onnx", "late.yaml"], Directory.GetFileSystemEntries(_root).Select(e => Path.GetFileName(e)).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void World_size_writes_one_ranks_set_and_a_batch_that_does_not_divide_is_refused()
    {
        string config = Path.Combine(RepoRoot(), "configs", "quickstart.yaml");
        string two = Path.Combine(_root, "two");
        var (code, _, stderr) = Graphgen("--config", config, "--out", two, "--world-size", "2");
        Assert.True(code == 0, stderr);
        var shapes = Manifest.Read(Path.Combine(two, ArtifactNames.ManifestFile)).Shapes;
        Assert.Equal((2, 40, 80), (shapes.WorldSize, shapes.Batch, shapes.GlobalBatch));

        string three = Path.Combine(_root, "three");
        (code, _, stderr) = Graphgen("--config", config, "--out", three, "--world-size", "3");
        Assert.Equal(2, code);
        Assert.Contains("training.batch_unlabelled: 64 does not divide into the 3 ranks", stderr);
        Assert.False(Directory.Exists(three));
    }

    private static (int Code, string Stdout, string Stderr) Graphgen(params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(GraphgenDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException("graphgen did not finish in 60 s"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    /// <summary>The test project's folder (tests/SemPPL.GraphGen.Tests) and the bin sub-path below it.</summary>
    private static (DirectoryInfo Project, string[] BinParts) TestProject()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var parts = new Stack<string>();
        while (d is not null && d.Name != "SemPPL.GraphGen.Tests") { parts.Push(d.Name); d = d.Parent; }
        Assert.True(d is not null, $"cannot locate the test project folder above {AppContext.BaseDirectory}");
        return (d!, parts.ToArray());
    }

    public static string RepoRoot() => TestProject().Project.Parent!.Parent!.FullName;

    /// <summary>graphgen/SemPPL.GraphGen.Cli/bin/&lt;same configuration/framework as this test&gt;/graphgen.dll</summary>
    private static string GraphgenDll()
    {
        var (_, parts) = TestProject();
        string dll = Path.Combine([RepoRoot(), "graphgen", "SemPPL.GraphGen.Cli", .. parts, "graphgen.dll"]);
        Assert.True(File.Exists(dll), $"graphgen not built: {dll}");
        return dll;
    }
}

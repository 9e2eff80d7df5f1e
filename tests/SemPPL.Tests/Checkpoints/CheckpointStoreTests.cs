using System.Diagnostics;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;

namespace SemPPL.Tests.Checkpoints;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _run = Directory.CreateTempSubdirectory("semppl-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    private static List<(string, HostTensor)> Tensors(float v) =>
        [("w", HostTensor.Float([2, 2], [v, v + 1, v + 2, v + 3])), ("m", HostTensor.Float([4], [-v, 0, 0, 0]))];

    [Fact]
    public void Save_and_load_latest_round_trip_bit_identical()
    {
        var store = new CheckpointStore(_run, keepLast: 2);
        Assert.Null(store.LoadLatest());
        var tensors = TensorFileTests.Sample();
        var meta = new Dictionary<string, string> { ["rng"] = "[1,2,3]", ["data_position"] = "77", ["config_hash"] = "h1", ["artifact_hash"] = "h2" };
        string path = store.Save(1000, tensors, meta);
        Assert.Equal(Path.Combine(_run, "checkpoints", "ckpt-00001000.spt"), path);

        var c = store.LoadLatest()!;
        Assert.Equal(1000, c.Step);
        Assert.Equal("1000", c.Metadata["step"]);
        foreach (var (k, v) in meta) Assert.Equal(v, c.Metadata[k]);
        Assert.Equal(tensors.Select(t => t.Name), c.Tensors.Select(t => t.Name));
        for (int i = 0; i < tensors.Count; i++)
            Assert.Equal(tensors[i].Tensor.ToBytes(), c.Tensors[i].Tensor.ToBytes());
        Assert.Throws<ArgumentException>(() => store.Save(5, tensors, new Dictionary<string, string> { ["step"] = "6" }));
    }

    [Fact]
    public void Keeps_the_last_k()
    {
        var store = new CheckpointStore(_run, keepLast: 3);
        foreach (long s in new long[] { 10, 20, 30, 40, 50 }) store.Save(s, Tensors(s), null);
        Assert.Equal([30L, 40, 50], store.List().Select(c => c.Step));
        Assert.Equal(50f, store.LoadLatest()!["w"].Floats[0]);
        Assert.Equal(3, Directory.GetFiles(store.Folder).Length);
    }

    [Fact]
    public void A_corrupt_newest_checkpoint_falls_back_to_the_previous_with_a_warning()
    {
        var warnings = new List<string>();
        var store = new CheckpointStore(_run, keepLast: 5, warn: warnings.Add);
        store.Save(1, Tensors(1), null);
        string newest = store.Save(2, Tensors(2), null);
        var bytes = File.ReadAllBytes(newest);
        bytes[^2] ^= 0xFF;
        File.WriteAllBytes(newest, bytes);
        File.WriteAllText(Path.Combine(store.Folder, "ckpt-00000003.spt"), "partial"); // a cut-short file

        var c = store.LoadLatest()!;
        Assert.Equal(1, c.Step);
        Assert.Equal([1f, 2, 3, 4], c["w"].Floats);
        Assert.Equal(2, warnings.Count);
        Assert.Contains("ckpt-00000003.spt", warnings[0]);
        Assert.Contains("ckpt-00000002.spt", warnings[1]);
        Assert.Contains("'m'", warnings[1]);
    }

    [Fact]
    public void Sigkill_during_a_save_leaves_the_previous_checkpoint_intact()
    {
        string dll = WriterDll();
        var psi = new ProcessStartInfo(DotnetHost(), [dll, _run, (8 << 20).ToString(), "15"]) // 32 MiB in 64 KiB chunks, 15 ms each
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var lines = new List<string>();
        var times = new List<long>();
        var clock = Stopwatch.StartNew();
        try
        {
            string? line;
            while ((line = p.StandardOutput.ReadLine()) is not null)
            {
                lines.Add($"{line}");
                times.Add(clock.ElapsedMilliseconds);
                if (line == "writing 2") break;
            }
            if (line != "writing 2")
                Assert.Fail($"child did not start checkpoint 2: [{string.Join("|", lines)}] {p.StandardError.ReadToEnd()}");
            Thread.Sleep(150); // well inside the ~8 s write
            var sw = Stopwatch.StartNew();
            if (p.HasExited)
                Assert.Fail($"child finished before the kill: lines at {string.Join(",", times)} ms, now {clock.ElapsedMilliseconds} ms, exit {p.ExitCode}");
            p.Kill(entireProcessTree: false); // SIGKILL on Linux
            Assert.True(p.WaitForExit(10_000));
            Assert.True(sw.ElapsedMilliseconds < 5000, $"child took {sw.ElapsedMilliseconds} ms to die");
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
        Assert.Equal(["saved 1", "writing 2"], lines);
        Assert.NotEqual(0, p.ExitCode);

        var store = new CheckpointStore(_run, warn: w => Assert.Fail("unexpected warning: " + w));
        var files = Directory.GetFiles(store.Folder).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain("ckpt-00000002.spt", files);
        Assert.Contains(files, f => TensorFile.IsTemporaryFile(f!)); // the interrupted write's temp file
        Assert.Equal([1L], store.List().Select(c => c.Step));

        var c = store.LoadLatest()!;
        Assert.Equal(1, c.Step);
        var w = new float[1000];
        for (int i = 0; i < w.Length; i++) w[i] = MathF.Sin(i) * 1e3f;
        Assert.Equal(HostTensor.Float([10, 100], w).ToBytes(), c["w"].ToBytes());
        Assert.Equal([7L], c["count"].Longs);
        Assert.Equal("{\"s\":[1,2,3,4]}", c.Metadata["rng"]);

        // The next save removes the leftover temporary file.
        store.Save(3, Tensors(3), null);
        Assert.DoesNotContain(Directory.GetFiles(store.Folder), f => TensorFile.IsTemporaryFile(Path.GetFileName(f)));
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    /// <summary>tests/SemPPL.CheckpointWriter/bin/&lt;same configuration/framework as this test&gt;/SemPPL.CheckpointWriter.dll</summary>
    private static string WriterDll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var parts = new Stack<string>();
        var d = baseDir;
        while (d is not null && d.Name != "SemPPL.Tests") { parts.Push(d.Name); d = d.Parent; }
        Assert.True(d is not null, $"cannot locate the test project folder above {baseDir}");
        string dll = Path.Combine([d!.Parent!.FullName, "SemPPL.CheckpointWriter", .. parts, "SemPPL.CheckpointWriter.dll"]);
        Assert.True(File.Exists(dll), $"child app not built: {dll}");
        return dll;
    }
}

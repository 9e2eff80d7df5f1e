using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Benchmarks.Runtime;

/// <summary>
/// `session-start`: how long the trainer's CPU session of each graph takes to create, first (ONNX Runtime optimises
/// the graph and the optimised model is stored) and again from the stored optimised model, with a fresh
/// <see cref="OptimizedModelCache"/> folder (deleted afterwards unless --cache names one). Sessions as a run makes
/// them (<see cref="SessionSettings.ForRun"/>: NCHWc lowering, level ALL).
/// <code>
/// dotnet run -c Release --project tests/SemPPL.Benchmarks -- graphgen-imagenet --keep --out /tmp/r50 --no-sessions
/// dotnet run -c Release --project tests/SemPPL.Benchmarks -- session-start --artifacts /tmp/r50 [--graphs train,target] [--threads N] [--cache DIR] [--uncached]
/// </code>
/// --uncached also times a session without any cache (what every start cost before the cache).
/// </summary>
public static class SessionStartBenchmark
{
    public static int Run(string[] args)
    {
        string? artifacts = BenchmarkOptions.Get(args, "--artifacts");
        if (artifacts is null || !Directory.Exists(artifacts))
        {
            Console.Error.WriteLine("session-start: --artifacts DIR (an artifact set, e.g. from graphgen-imagenet --keep --out DIR) is required");
            return 2;
        }
        string[] graphs = BenchmarkOptions.Get(args, "--graphs", "train,target").Split(',', StringSplitOptions.RemoveEmptyEntries);
        int threads = BenchmarkOptions.Get(args, "--threads", 0);
        string? keep = BenchmarkOptions.Get(args, "--cache");
        string cacheDir = keep ?? Path.Combine(Path.GetTempPath(), $"semppl-session-start-{Environment.ProcessId}");
        var settings = SessionSettings.ForRun(threads) with { OptimizedModelCacheDirectory = cacheDir };
        Console.WriteLine($"command: SemPPL.Benchmarks session-start {string.Join(' ', args)}");
        Console.WriteLine($"machine: {Machine.Describe()}; ONNX Runtime {OrtEnv.Instance().GetVersionString()}; load average {Machine.LoadAverage()}");
        Console.WriteLine($"sessions: cpu, {settings.IntraOpThreads} intra-op threads, convolutions {(SessionFactory.CpuConvLayoutFromEnvironment && NchwcSupport.BlockSize > 1 ? $"lowered (NCHWc block {NchwcSupport.BlockSize})" : "as written")}; cache {cacheDir}");
        Console.WriteLine($"{"graph",-16} {"bytes",12} {"uncached (s)",13} {"first (s)",10} {"cached (s)",11} {"entry (MB)",11}");
        try
        {
            foreach (string g in graphs)
            {
                string path = Path.Combine(artifacts, g.EndsWith(".onnx", StringComparison.Ordinal) ? g : g + ".onnx");
                string uncached = args.Contains("--uncached") ? Time(settings with { OptimizedModelCacheDirectory = null }, path, out _).ToString("F2") : "-";
                double first = Time(settings, path, out var f1);
                double cached = Time(settings, path, out var f2);
                string entry = f1.CacheKey(File.ReadAllBytes(path)) is var key && f1.ModelCache!.EntryPath(key) is var dir && Directory.Exists(dir)
                    ? (new DirectoryInfo(dir).EnumerateFiles().Sum(f => f.Length) / 1e6).ToString("F1") : "none";
                Console.WriteLine($"{Path.GetFileName(path),-16} {new FileInfo(path).Length,12:N0} {uncached,13} {first,10:F2} {cached,11:F2} {entry,11}" +
                                  $"   (first: {Outcome(f1.ModelCache!)}, second: {Outcome(f2.ModelCache!)}, of which {f2.ModelCache!.CheckTime.TotalSeconds:F2} s checking the entry)");
                f1.Dispose();
                f2.Dispose();
            }
            return 0;
        }
        finally
        {
            if (keep is null && Directory.Exists(cacheDir)) Directory.Delete(cacheDir, recursive: true);
        }
    }

    /// <summary>Seconds to create the session of <paramref name="path"/> with a new factory (returned: its cache counts).</summary>
    private static double Time(SessionSettings settings, string path, out SessionFactory factory)
    {
        factory = new SessionFactory(ExecutionDevice.Parse("cpu"), settings, line => Console.WriteLine($"  {line}"));
        var sw = Stopwatch.StartNew();
        using (factory.CreateSession(path)) { }
        return sw.Elapsed.TotalSeconds;
    }

    private static string Outcome(OptimizedModelCache c) => c.Hits > 0 ? "loaded from the cache" : c.Builds > 0 ? "optimised and stored" : "optimised, not stored";
}

using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.EndToEnd;

namespace SemPPL.Benchmarks.Autodiff;

/// <summary>
/// Forward-only vs forward+backward run time of a small ResNet built by graphgen and differentiated by
/// <see cref="Differentiator"/>, on the ORT CPU provider. Both graphs compute the training-mode forward
/// (BatchNorm on batch statistics, loss and running-statistics outputs); the second also outputs the gradient
/// of the loss w.r.t. every parameter. Median of --runs timed session runs after --warmup untimed ones.
/// Options: --batch N (64), --runs N (30), --warmup N (5), --threads N (2, intra-op), --profile 1 (ORT profiling of
/// the timed runs: kernel time per op type, printed after each median; profiling itself slows the runs a little).
/// </summary>
public static class AutodiffBenchmark
{
    /// <summary>28x28x1 input, stem 3x3/1 -> 16 + MaxPool 3x3/2 (14x14), block 16 (identity), block 32 stride 2 with projection (7x7), 10 classes.</summary>
    public static readonly SmallResNetSpec Spec = new(InChannels: 1, Height: 28, Width: 28, StemChannels: 16, StemKernel: 3, StemStride: 1,
        Blocks: [new(16, 1), new(32, 2)], Classes: 10);

    public static int Run(string[] args)
    {
        int batch = Opt(args, "--batch", 64), runs = Opt(args, "--runs", 30), warmup = Opt(args, "--warmup", 5), threads = Opt(args, "--threads", 2);
        bool profile = Opt(args, "--profile", 0) != 0;
        Console.WriteLine($"command: dotnet run -c Release --project tests/SemPPL.Benchmarks -- autodiff {string.Join(" ", args)}".TrimEnd());
        Console.WriteLine($"machine: {Machine.Cpu()}, {Environment.ProcessorCount} logical cores visible; ORT {OrtEnv.Instance().GetVersionString()} CPU provider, intra-op threads {threads}, inter-op 1, ORT_ENABLE_ALL");
        Console.WriteLine($"network: {Spec.Describe()}");
        Console.WriteLine($"batch {batch}; median of {runs} runs after {warmup} warm-up runs");

        var forward = new GraphBuilder("small_resnet_forward");
        var fnet = SmallResNetGraph.Build(forward, Spec, batch);
        forward.Output(fnet.Loss, "loss");
        foreach (var (input, updated) in fnet.RunningStats) forward.Output(updated, "new." + input.Name);

        var training = new GraphBuilder("small_resnet_forward_backward");
        var tnet = SmallResNetGraph.Build(training, Spec, batch);
        training.Output(tnet.Loss, "loss");
        foreach (var (input, updated) in tnet.RunningStats) training.Output(updated, "new." + input.Name);
        int forwardNodes = training.Nodes.Count;
        Differentiator.Differentiate(training, tnet.Loss, tnet.Parameters.ToList());

        var feeds = Feeds(batch);
        // The two sessions run alternately, so that both see the same background load (shared machines).
        using var f = new TimedSession(forward, feeds, threads, profile);
        using var fb = new TimedSession(training, feeds, threads, profile);
        var ratios = new List<double>();
        for (int i = 0; i < warmup + runs; i++)
        {
            double a = f.RunOnce(), b = fb.RunOnce();
            if (i >= warmup) { f.Times.Add(a); fb.Times.Add(b); ratios.Add(b / a); }
        }
        double fwd = f.Report("forward", warmup + runs), both = fb.Report("forward+backward", warmup + runs);
        Console.WriteLine($"graph nodes: forward {forwardNodes}, forward+backward {training.Nodes.Count}");
        Console.WriteLine($"ratio (forward+backward) / forward: of the medians {both / fwd:F2}; median of the {runs} paired runs {Median(ratios):F2}");
        return 0;
    }

    private static double Median(List<double> xs) { var s = xs.Order().ToList(); return s[s.Count / 2]; }

    /// <summary>One ORT session over fixed inputs, timed per Run call.</summary>
    private sealed class TimedSession : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly SessionOptions _options;
        private readonly RunOptions _runOptions = new();
        private readonly string[] _names, _outputNames;
        private readonly OrtValue[] _values;
        private readonly bool _profile;

        public TimedSession(GraphBuilder g, Dictionary<string, HostTensor> feeds, int threads, bool profile)
        {
            _options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            _profile = profile;
            if (profile)
            {
                _options.EnableProfiling = true;
                _options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"semppl-autodiff-{Environment.ProcessId}-{g.Name}");
            }
            _session = new InferenceSession(g.ToBytes(), _options);
            _names = _session.InputNames.ToArray();
            _values = _names.Select(n => ToOrt(feeds[n])).ToArray();
            _outputNames = _session.OutputNames.ToArray();
        }

        public List<double> Times { get; } = [];

        public double RunOnce()
        {
            var sw = Stopwatch.StartNew();
            using (var results = _session.Run(_runOptions, _names, _values, _outputNames)) { }
            return sw.Elapsed.TotalMilliseconds;
        }

        public double Report(string name, int runCount)
        {
            double median = Median(Times);
            Console.WriteLine($"{name,-17}: median {median,8:F2} ms (min {Times.Min():F2}, max {Times.Max():F2}; {_outputNames.Length} outputs)");
            if (_profile) PrintProfile(_session.EndProfiling(), runCount);
            return median;
        }

        public void Dispose()
        {
            foreach (var v in _values) v.Dispose();
            _session.Dispose();
            _runOptions.Dispose();
            _options.Dispose();
        }
    }

    /// <summary>Kernel time per op type from an ORT profile (all runs, averaged per run), largest first.</summary>
    private static void PrintProfile(string path, int runCount)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var byOp = new Dictionary<string, (double Us, int Count)>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            if (!e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            var op = e.GetProperty("args").GetProperty("op_name").GetString()!;
            var (us, n) = byOp.GetValueOrDefault(op);
            byOp[op] = (us + e.GetProperty("dur").GetDouble(), n + 1);
        }
        double total = byOp.Values.Sum(v => v.Us);
        foreach (var (op, (us, n)) in byOp.OrderByDescending(kv => kv.Value.Us).Take(12))
            Console.WriteLine($"    {op,-22} {us / runCount / 1000,8:F2} ms/run  {100 * us / total,5:F1}%  ({n / runCount} nodes)");
        File.Delete(path);
    }

    private static Dictionary<string, HostTensor> Feeds(int batch)
    {
        var rng = new Random(3);
        var feeds = new Dictionary<string, HostTensor>
        {
            ["x"] = HostTensor.Float([batch, Spec.InChannels, Spec.Height, Spec.Width],
                Enumerable.Range(0, batch * Spec.InChannels * Spec.Height * Spec.Width).Select(_ => (float)rng.NextDouble()).ToArray()),
            ["labels"] = HostTensor.Int64([batch], Enumerable.Range(0, batch).Select(i => (long)(i % Spec.Classes)).ToArray()),
        };
        var init = Spec.InitialParameters(1);
        foreach (var p in Spec.Parameters()) feeds[p.Name] = HostTensor.Float(p.Shape, init[p.Name]);
        foreach (var (name, c) in Spec.BatchNorms())
        {
            feeds[name + ".mean"] = HostTensor.Float([c], new float[c]);
            feeds[name + ".var"] = HostTensor.Float([c], Enumerable.Repeat(1f, c).ToArray());
        }
        return feeds;
    }

    private static OrtValue ToOrt(HostTensor t) => t.Type switch
    {
        DType.Float => OrtValue.CreateTensorValueFromMemory(t.Floats, t.Shape),
        DType.Int64 => OrtValue.CreateTensorValueFromMemory(t.Longs, t.Shape),
        _ => throw new NotSupportedException(t.Type.ToString()),
    };

    private static int Opt(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) ? v : fallback;
    }
}

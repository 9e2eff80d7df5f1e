using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Tests.Reference;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Benchmarks.DeviceCheck;

/// <summary>
/// Does a device (CUDA) compute what the CPU computes? Two checks on one config's artifact set and one fixed batch:
/// <list type="number">
/// <item>the trainer's step path (StepGraphs: bindings, ping-pong state, host staging) on the CPU and on the device,
/// side by side for a few steps: loss parts, then every tensor passed between graphs and every state tensor;</item>
/// <item>each graph on its own with plain session runs and every intermediate value as an output, fed the CPU step's
/// own inputs: the first nodes (in graph order) whose output differs, with how much each of their inputs differs.
/// A node whose inputs agree and whose output does not is a kernel that disagrees with the CPU kernel.</item>
/// </list>
///   dotnet run -c Release --project tests/SemPPL.Benchmarks -- devicecheck [--config configs/quickstart.yaml]
///       [--device cuda] [--steps 2] [--tol 0.01] [--graphs target,train,pseudolabel]
/// Differences are relative to the largest magnitude of the CPU tensor; TF32 convolutions and matrix products
/// on the GPU give about 1e-3.
/// </summary>
public static class DeviceComparison
{
    public static int Run(string[] args)
    {
        string configFile = BenchmarkOptions.Get(args, "--config", "configs/quickstart.yaml");
        string device = BenchmarkOptions.Get(args, "--device", "cuda");
        int steps = BenchmarkOptions.Get(args, "--steps", 2);
        double tol = double.Parse(BenchmarkOptions.Get(args, "--tol", "0.01"), System.Globalization.CultureInfo.InvariantCulture);
        var graphs = BenchmarkOptions.Get(args, "--graphs", "target,train,pseudolabel").Split(',', StringSplitOptions.RemoveEmptyEntries).Where(g => g != "none").ToArray();

        string root = ReferenceHarness.RepoRoot();
        var config = ConfigLoader.Load(Path.IsPathRooted(configFile) ? configFile : Path.Combine(root, configFile));
        int labelled = config.Data.LabelsPerClass is { } lpc ? lpc * config.Model.NumClasses : 1000;
        string artifacts = Path.Combine(Path.GetTempPath(), $"semppl-devicecheck-{ConfigHash.Compute(config, labelled)[..12]}");
        var manifest = RunSetup.EnsureArtifacts(config, labelled, artifacts, _ => { });
        var batch = ReferenceHarness.MakeBatch(manifest.Shapes, seed: 1);
        Console.WriteLine($"device check: {configFile} on cpu vs {device}, {steps} steps, tolerance {tol:G3} (relative to the CPU tensor's largest magnitude)");
        Console.WriteLine($"machine: {Machine.Describe()}; {SessionFactory.OptimizationVariable}={Environment.GetEnvironmentVariable(SessionFactory.OptimizationVariable) ?? "(all)"}");

        const double lr = 0.05, tau = 0.99;
        var named = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        int worst = 0;
        using (var cpu = new OurStepRunner(config, artifacts, manifest, batch, null, "cpu"))
        using (var dev = new OurStepRunner(config, artifacts, manifest, batch, null, device))
        {
            Console.WriteLine($"sessions: cpu and {dev.Factory.Description}");
            foreach (var (n, t) in cpu.Graphs.State.Download()) named[n] = t;
            worst += Report("  state as loaded (upload and download round trip)", cpu.Graphs.State.Download(), dev.Graphs.State.Download(), tol);
            for (int k = 0; k < steps; k++)
            {
                var a = cpu.Step(k, lr, tau);
                var b = dev.Step(k, lr, tau);
                Console.WriteLine($"step {k}: loss cpu {a.Loss:F6} {Name(device)} {b.Loss:F6} | augmentation {a.Augmentation:F6} / {b.Augmentation:F6} | " +
                                  $"semantic {a.SemanticPositive:F6} / {b.SemanticPositive:F6} | invariance {a.Invariance:F6} / {b.Invariance:F6} | " +
                                  $"classifier {a.Classifier:F6} / {b.Classifier:F6}");
                if (k == 0)
                {
                    foreach (var (n, t) in cpu.Graphs.DownloadInputs()) named.TryAdd(n, t);
                    // the pseudo-label graph reads the queue after this step's push
                    foreach (var (n, t) in cpu.Graphs.State.Download(cpu.Graphs.StateNames.Where(s => s.StartsWith("queue.", StringComparison.Ordinal))))
                        named[PseudoQueuePrefix + n] = t;
                }
                worst += Report($"  between graphs after step {k}", cpu.Graphs.Tensors.DownloadPassed(), dev.Graphs.Tensors.DownloadPassed(), tol);
                worst += Report($"  state after step {k}", cpu.Graphs.State.Download(), dev.Graphs.State.Download(), tol);
            }
        }

        using var devFactory = new SessionFactory(ExecutionDevice.Parse(device));
        using var cpuFactory = new SessionFactory(ExecutionDevice.Parse("cpu"));
        foreach (var g in graphs)
            NodeByNode(g, Path.Combine(artifacts, g + ".onnx"), named, cpuFactory, devFactory, tol);
        Console.WriteLine(worst == 0 ? "step path: every tensor within tolerance" : $"step path: {worst} tensors over tolerance");
        return 0;
    }

    private const string PseudoQueuePrefix = "after-push:";

    private static string Name(string device) => device.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : device;

    private static int Report(string title, List<(string Name, HostTensor Tensor)> a, List<(string Name, HostTensor Tensor)> b, double tol)
    {
        var other = b.ToDictionary(x => x.Name, x => x.Tensor);
        var rows = a.Select(x => (x.Name, Diff: RelDiff(x.Tensor, other[x.Name]), Max: MaxAbs(x.Tensor))).ToList();
        var bad = rows.Where(r => !(r.Diff <= tol)).ToList();
        Console.WriteLine($"{title}: {rows.Count} tensors, {bad.Count} over tolerance; largest {rows.Max(r => double.IsNaN(r.Diff) ? double.PositiveInfinity : r.Diff):G3}");
        foreach (var r in bad.Take(12)) Console.WriteLine($"    {r.Name}: relative difference {r.Diff:G3} (cpu max |x| {r.Max:G3})");
        return bad.Count;
    }

    /// <summary>Runs one graph on both devices with every node output as a graph output; prints the first disagreements.</summary>
    private static void NodeByNode(string graph, string path, Dictionary<string, HostTensor> named,
        SessionFactory cpuFactory, SessionFactory devFactory, double tol)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var outputs = new HashSet<string>(model.Graph.Output.Select(o => o.Name));
        foreach (var node in model.Graph.Node)
            foreach (var o in node.Output)
                if (o.Length > 0 && outputs.Add(o)) model.Graph.Output.Add(new ValueInfoProto { Name = o });
        byte[] bytes = model.ToByteArray();

        using var cpu = cpuFactory.CreateSession(bytes);
        using var dev = devFactory.CreateSession(bytes);
        var inputs = new List<(string, OrtValue)>();
        try
        {
            foreach (var name in cpu.InputMetadata.Keys)
            {
                string key = graph == "pseudolabel" && named.ContainsKey(PseudoQueuePrefix + name) ? PseudoQueuePrefix + name : name;
                if (!named.TryGetValue(key, out var t))
                {
                    Console.WriteLine($"  {graph}: no captured value for input '{name}': skipped");
                    return;
                }
                inputs.Add((name, Wrap(t)));
            }
            var names = cpu.OutputMetadata.Keys.ToList();
            var inNames = inputs.Select(i => i.Item1).ToArray();
            var inValues = inputs.Select(i => i.Item2).ToArray();
            using var runOptions = new RunOptions();
            using var ra = cpu.Run(runOptions, inNames, inValues, names);
            using var rb = dev.Run(runOptions, inNames, inValues, names);
            var diff = new Dictionary<string, double>(StringComparer.Ordinal);
            for (int i = 0; i < names.Count; i++) diff[names[i]] = RelDiff(ra[i], rb[i]);
            foreach (var (n, _) in inputs) diff[n] = 0;

            var bad = new List<string>();
            int shown = 0;
            foreach (var node in model.Graph.Node)
            {
                var outs = node.Output.Where(o => o.Length > 0 && diff.ContainsKey(o)).ToList();
                double d = outs.Count == 0 ? 0 : outs.Max(o => double.IsNaN(diff[o]) ? double.PositiveInfinity : diff[o]);
                if (d <= tol) continue;
                bad.Add(node.Name);
                var ins = node.Input.Where(x => x.Length > 0)
                    .Select(x => $"{x} {(diff.TryGetValue(x, out var v) ? v.ToString("G3") : "(initializer)")}");
                bool inputsAgree = node.Input.Where(x => x.Length > 0).All(x => !diff.TryGetValue(x, out var v) || v <= tol);
                if (shown++ < 12 || inputsAgree && shown < 40)
                    Console.WriteLine($"    {(inputsAgree ? "ORIGIN " : "       ")}{node.OpType} '{node.Name}' -> {string.Join(", ", outs.Select(o => $"{o} {diff[o]:G3}"))} " +
                                      $"[{Attrs(node)}] inputs: {string.Join("; ", ins)}");
            }
            Console.WriteLine($"  {graph}: {model.Graph.Node.Count} nodes, {bad.Count} with an output over tolerance; " +
                              $"largest {diff.Values.Max(v => double.IsNaN(v) ? double.PositiveInfinity : v):G3}");
        }
        finally
        {
            foreach (var (_, v) in inputs) v.Dispose();
        }
    }

    private static string Attrs(NodeProto n) => string.Join(" ", n.Attribute.Select(a => a.Type switch
    {
        AttributeProto.Types.AttributeType.Int => $"{a.Name}={a.I}",
        AttributeProto.Types.AttributeType.Float => $"{a.Name}={a.F:G4}",
        AttributeProto.Types.AttributeType.Ints => $"{a.Name}=[{string.Join(",", a.Ints)}]",
        AttributeProto.Types.AttributeType.String => $"{a.Name}={a.S.ToStringUtf8()}",
        _ => a.Name,
    }));

    private static OrtValue Wrap(HostTensor t) => t.Type switch
    {
        DType.Float => OrtValue.CreateTensorValueFromMemory(t.Floats, t.Shape),
        DType.Int64 => OrtValue.CreateTensorValueFromMemory(t.Longs, t.Shape),
        DType.Int32 => OrtValue.CreateTensorValueFromMemory(t.Ints, t.Shape),
        DType.Double => OrtValue.CreateTensorValueFromMemory(t.Doubles, t.Shape),
        _ => throw new NotSupportedException($"input type {t.Type}"),
    };

    private static double[] Values(HostTensor t) => t.Type switch
    {
        DType.Float => t.Floats.Select(v => (double)v).ToArray(),
        DType.Double => t.Doubles,
        DType.Int64 => t.Longs.Select(v => (double)v).ToArray(),
        DType.Int32 => t.Ints.Select(v => (double)v).ToArray(),
        DType.Bool => t.Bools.Select(v => v ? 1.0 : 0.0).ToArray(),
        _ => [],
    };

    private static double[] Values(OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        return info.ElementDataType switch
        {
            TensorElementType.Float => v.GetTensorDataAsSpan<float>().ToArray().Select(x => (double)x).ToArray(),
            TensorElementType.Double => v.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Int64 => v.GetTensorDataAsSpan<long>().ToArray().Select(x => (double)x).ToArray(),
            TensorElementType.Int32 => v.GetTensorDataAsSpan<int>().ToArray().Select(x => (double)x).ToArray(),
            TensorElementType.Bool => v.GetTensorDataAsSpan<bool>().ToArray().Select(x => x ? 1.0 : 0.0).ToArray(),
            _ => [],
        };
    }

    private static double RelDiff(HostTensor a, HostTensor b) => RelDiff(Values(a), Values(b));
    private static double RelDiff(OrtValue a, OrtValue b) => RelDiff(Values(a), Values(b));

    private static double RelDiff(double[] a, double[] b)
    {
        if (a.Length != b.Length) return double.NaN;
        double max = 0, d = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (double.IsNaN(a[i]) != double.IsNaN(b[i])) return double.NaN;
            if (double.IsNaN(a[i])) continue;
            max = Math.Max(max, Math.Abs(a[i]));
            d = Math.Max(d, Math.Abs(a[i] - b[i]));
        }
        return d / Math.Max(max, 1e-12);
    }

    private static double MaxAbs(HostTensor t) => Values(t).Select(Math.Abs).DefaultIfEmpty(0).Max();
}

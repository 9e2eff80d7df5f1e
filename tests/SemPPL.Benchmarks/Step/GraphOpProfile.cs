using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Benchmarks.Step;

/// <summary>
/// ORT profile of a copy of one step graph (train.onnx, target.onnx) opened as the trainer opens it (the factory's
/// session options, device and CPU lowering), fed the step's batch, the initial weights and random other inputs:
/// kernel time per op type. Reductions whose input is at least 1 MB are split out by form (per-channel over N,H,W of a
/// 4-D tensor; the stages of the two-stage form; other), as they are the suspects on CUDA. On CUDA, node times are
/// kernel times only when the process runs with CUDA_LAUNCH_BLOCKING=1 (the stock build has no CUPTI); without it
/// they time the launches.
/// </summary>
public static class GraphOpProfile
{
    public const int Runs = 5, WarmUps = 2; // arena growth, first-touch pages, cuDNN plans: the first two runs are not counted

    /// <summary>The convolution and matrix-product kernels: the FLOPs of a step, which no layout or fusion change removes.</summary>
    public static readonly string[] ProductOps = ["Conv", "ConvTranspose", "MatMul", "FusedMatMul", "Gemm"];

    /// <summary>Per counted run: all node time, and the product kernels' share of it (ms).</summary>
    public sealed record Totals(double NodeMs, double ProductMs);

    public static Totals Print(SessionFactory factory, string file, string artifacts, Manifest manifest, float[] largeViews, long[] labels, int top = 15)
    {
        using var opts = factory.CreateOptions();
        opts.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"semppl-{Path.GetFileNameWithoutExtension(file)}-profile"); // before EnableProfiling, which reads it
        opts.EnableProfiling = true;
        byte[] model = File.ReadAllBytes(Path.Combine(artifacts, file));
        if (factory.LowersConvolutions) model = NchwcSupport.Lower(model);
        using var session = new InferenceSession(model, opts);
        var feeds = Feeds(session, artifacts, manifest, largeViews, labels);
        var wall = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            using (session.Run(feeds)) { }
            if (i >= WarmUps) wall.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        string json = session.EndProfiling();
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var events = doc.RootElement.EnumerateArray().Where(e => e.TryGetProperty("cat", out _)).ToList();
        var modelRuns = events.Where(e => e.GetProperty("cat").GetString() == "Session" && e.GetProperty("name").GetString() == "model_run")
                              .Select(e => e.GetProperty("ts").GetDouble()).Order().ToList();
        double counted = modelRuns.Count == Runs ? modelRuns[WarmUps] : 0;
        var byOp = new Dictionary<string, (double Us, int Nodes)>();
        double all = 0;
        foreach (var e in events)
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time")) continue;
            if (e.GetProperty("ts").GetDouble() < counted) continue;
            var args = e.GetProperty("args");
            string op = Label(args.GetProperty("op_name").GetString()!, args);
            double us = e.GetProperty("dur").GetDouble();
            var (sum, nodes) = byOp.GetValueOrDefault(op);
            byOp[op] = (sum + us, nodes + 1);
            all += us;
        }
        int n = Runs - WarmUps;
        Console.WriteLine($"  ORT profile of {file} on {factory.Description} ({n} runs after {WarmUps} warm-ups; {json}): node time {all / 1000 / n:F1} ms/run, " +
                          $"wall {wall.Average():F1} ms/run (with input copies)");
        foreach (var (op, (us, nodes)) in byOp.OrderByDescending(kv => kv.Value.Us).Take(top))
            Console.WriteLine($"    {op,-40} {us / 1000 / n,8:F2} ms/run ({100 * us / all,5:F1}%), {nodes / n} nodes");
        double reductions = byOp.Where(kv => kv.Key.StartsWith("Reduce", StringComparison.Ordinal)).Sum(kv => kv.Value.Us);
        Console.WriteLine($"    all reductions: {reductions / 1000 / n:F2} ms/run ({100 * reductions / all:F1}%)");
        double products = byOp.Where(kv => ProductOps.Contains(kv.Key)).Sum(kv => kv.Value.Us);
        Console.WriteLine($"    all products ({string.Join(", ", ProductOps)}): {products / 1000 / n:F2} ms/run ({100 * products / all:F1}%)");
        return new Totals(all / 1000 / n, products / 1000 / n);
    }

    /// <summary>Reductions of at least 1 MB by form (the input and output shapes are in the profile's args); other ops by type.</summary>
    private static string Label(string op, JsonElement args)
    {
        if (!op.StartsWith("Reduce", StringComparison.Ordinal)) return op;
        long[]? input = FirstShape(args, "input_type_shape"), output = FirstShape(args, "output_type_shape");
        if (input is null || output is null) return op;
        long inElements = input.Aggregate(1L, (a, d) => a * d), outElements = output.Aggregate(1L, (a, d) => a * d);
        if (inElements * 4 < 1 << 20) return $"{op} (small)";
        if (input.Length == 4 && outElements == input[1]) return $"{op} N,H,W of [N,C,H,W] (big)";
        if (input.Length == 3 && output.Length >= 2 && outElements == input[0] * input[1]) return $"{op} last axis of [N,C,H*W] (big)";
        return $"{op} other (big)";
    }

    private static long[]? FirstShape(JsonElement args, string key)
    {
        if (!args.TryGetProperty(key, out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0) return null;
        foreach (var typed in list[0].EnumerateObject())
            return typed.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray();
        return null;
    }

    /// <summary>Feeds for every graph input: initial weights (target.* from online.*), the batch, valid negatives, else small random values.</summary>
    private static List<NamedOnnxValue> Feeds(InferenceSession session, string artifacts, Manifest manifest, float[] largeViews, long[] labels)
    {
        var initial = TensorFile.Read(Path.Combine(artifacts, manifest.InitialWeights));
        var rng = new Random(5);
        var feeds = new List<NamedOnnxValue>();
        foreach (var (name, meta) in session.InputMetadata)
        {
            int[] dims = meta.Dimensions;
            int count = dims.Aggregate(1, (a, b) => a * b);
            string online = name.StartsWith("target.", StringComparison.Ordinal) ? "online." + name["target.".Length..] : name;
            if (initial.Tensors.FirstOrDefault(t => t.Name == online).Tensor is { } w && w.Floats.Length == count)
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(w.Floats, dims)));
            else if (name == ArtifactNames.ViewsLarge) feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(largeViews, dims)));
            else if (name == ArtifactNames.Labels) feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(labels, dims)));
            else if (name == ArtifactNames.Negatives)
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(Enumerable.Range(0, count)
                    .Select(i => (long)((i / dims[2] % dims[1] + 1 + i % dims[2]) % dims[1])).ToArray(), dims)));
            else if (meta.ElementType == typeof(float))
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(Enumerable.Range(0, count)
                    .Select(_ => name == ArtifactNames.PositiveMask ? 1f : (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray(), dims)));
            else throw new InvalidOperationException($"profile: no feed for {name}");
        }
        return feeds;
    }
}

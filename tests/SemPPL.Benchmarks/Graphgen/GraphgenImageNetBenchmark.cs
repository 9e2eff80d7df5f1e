using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Benchmarks.Graphgen;

/// <summary>
/// `graphgen-imagenet`: generates the artifact set of an ImageNet config (default configs/imagenet-r50-1pct.yaml,
/// batch_unlabelled overridden to 256, so B_l = 64, L = 4 large 224 px + S = 2 small 96 px views), timing the
/// generation and its phases (graphgen's own log lines, with elapsed time), then creates an ORT CPU InferenceSession
/// for each .onnx (session creation only; ORT_ENABLE_ALL as the trainer, or --opt), printing file sizes and times.
/// <code>
/// dotnet run -c Release --project tests/SemPPL.Benchmarks -- graphgen-imagenet [--config FILE] [--batch-unlabelled N]
///     [--labelled-images N] [--out DIR] [--keep] [--no-sessions] [--threads N] [--opt none|basic|extended|all]
/// </code>
/// </summary>
public static class GraphgenImageNetBenchmark
{
    /// <summary>ONNX files (protobuf) cannot exceed 2 GiB; larger tensors must go to external data.</summary>
    public const long ProtobufLimit = 2L << 30;

    public static int Run(string[] args)
    {
        string config = "configs/imagenet-r50-1pct.yaml";
        int batchUnlabelled = 256, labelled = 12811, threads = 2;
        string? outDir = null;
        bool keep = false, sessions = true;
        var level = GraphOptimizationLevel.ORT_ENABLE_ALL;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--config": config = Next(); break;
                case "--batch-unlabelled": batchUnlabelled = int.Parse(Next()); break;
                case "--labelled-images": labelled = int.Parse(Next()); break;
                case "--out": outDir = Next(); break;
                case "--threads": threads = int.Parse(Next()); break;
                case "--keep": keep = true; break;
                case "--opt":
                    level = Next() switch
                    {
                        "none" => GraphOptimizationLevel.ORT_DISABLE_ALL,
                        "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                        "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                        "all" => GraphOptimizationLevel.ORT_ENABLE_ALL,
                        var o => throw new ArgumentException($"--opt: '{o}' is not none|basic|extended|all"),
                    };
                    break;
                case "--no-sessions": sessions = false; break;
                default:
                    Console.Error.WriteLine($"graphgen-imagenet: unknown option '{args[i]}'");
                    return 2;
            }
        }

        var cfg = ConfigLoader.Load(config);
        cfg.Training.BatchUnlabelled = batchUnlabelled;
        ConfigValidator.Validate(cfg, config);
        outDir ??= Path.Combine(Path.GetTempPath(), $"semppl-graphgen-bench-{Environment.ProcessId}");
        var shapes = ArtifactShapes.From(cfg, labelled);
        Console.WriteLine($"config {config}: {cfg.Model.Backbone}, B_u {shapes.BatchUnlabelled}, B_l {shapes.BatchLabelled}, " +
                          $"L {shapes.LargeViews} x {shapes.LargeSize} px, S {shapes.SmallViews} x {shapes.SmallSize} px, queue {shapes.QueueCapacity}, " +
                          $"{labelled} labelled images; {Environment.ProcessorCount} cores; out {outDir}");

        try
        {
            var total = Stopwatch.StartNew();
            var manifest = ArtifactSetWriter.Write(cfg, labelled, outDir, m => Console.WriteLine($"  [{total.Elapsed.TotalSeconds,6:F1} s] {m}"));
            total.Stop();
            Console.WriteLine($"generation: {total.Elapsed.TotalSeconds:F1} s (target < 60 s); parameters {manifest.ParameterCounts.Total:N0}");

            bool tooLarge = false;
            Console.WriteLine($"ORT sessions: CPU, {level}, {threads} intra-op threads");
            Console.WriteLine($"{"file",-22} {"bytes",15} {"nodes",8} {"session (s)",12}");
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = level,
                IntraOpNumThreads = threads,
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            };
            foreach (var file in Directory.GetFiles(outDir).Order(StringComparer.Ordinal))
            {
                long bytes = new FileInfo(file).Length;
                string name = Path.GetFileName(file);
                string nodes = manifest.Graphs.Values.FirstOrDefault(g => g.File == name)?.Nodes.ToString() ?? "";
                string session = "";
                if (name.EndsWith(".onnx", StringComparison.Ordinal))
                {
                    if (bytes >= ProtobufLimit) { tooLarge = true; session = "over 2 GiB"; }
                    else if (sessions)
                    {
                        var sw = Stopwatch.StartNew();
                        using (new InferenceSession(file, options)) { }
                        session = sw.Elapsed.TotalSeconds.ToString("F2");
                    }
                }
                Console.WriteLine($"{name,-22} {bytes,15:N0} {nodes,8} {session,12}");
            }
            if (tooLarge) Console.WriteLine("a file exceeds 2 GiB: it must store its tensors as ONNX external data");
            return tooLarge ? 1 : 0;
        }
        finally
        {
            if (!keep && Directory.Exists(outDir)) Directory.Delete(outDir, true);
        }
    }
}

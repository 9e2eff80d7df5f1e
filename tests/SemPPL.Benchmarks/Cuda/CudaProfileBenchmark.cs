using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SemPPL.Benchmarks.Step;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Layers;
using SemPPL.GraphGen.Onnx;
using SemPPL.Tests.Reference;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Benchmarks.Cuda;

/// <summary>
/// "Measure first" for the CUDA step (docs/benchmarks.md, cuda-profile): where the ResNet-50 step's time goes and
/// what each alternative graph form costs, ours next to PyTorch's on the same shapes.
/// Sections (--sections, comma-separated; default all):
/// <list type="bullet">
/// <item>profile: time by op type of target.onnx and train.onnx of the case (--case r50|quickstart), once per
/// model.channel_reduction form (--forms), big reductions split out. Run it with CUDA_LAUNCH_BLOCKING=1 on CUDA.</item>
/// <item>reduce: the per-channel mean of every ResNet-50 BatchNorm input shape, direct vs two-stage (ms, GB/s).</item>
/// <item>bn: training BatchNorm forward: today's form, the two-stage form, the opset-13 fused node (CUDA only),
/// outputs against a double-precision reference.</item>
/// <item>wgrad: the Conv weight gradient per conv kind: today's form (the rule's choice), position-major gather + one
/// GEMM, batched MatMul (1x1), the batch-as-channels (dilated) Conv; PyTorch's is cuDNN's backward-filter.</item>
/// <item>upload: the step's large views (96 MB at B = 64 + 16, 224 px) host to device, pageable vs pinned.</item>
/// </list>
/// Options: --device cuda|cpu (cuda), --batch B_u (64; N = B_u + B_u/4 images a forward pass), --size px (224),
/// --warmup N (3), --runs N (20), --threads N (the processor count; CPU sessions and torch), --torch on|off (on).
/// Exit code 0 when every section ran and every checked result is within its tolerance (MISMATCH marks one that is not),
/// 1 otherwise (the line says why), 2 for bad options or no device.
/// </summary>
public static class CudaProfileBenchmark
{
    public static readonly string[] AllSections = ["profile", "reduce", "bn", "wgrad", "upload"];

    private sealed record Options(string Device, string Case, int BatchUnlabelled, int Size, int Warmup, int Runs, int Threads, string[] Forms)
    {
        public long N => BatchUnlabelled + Math.Max(1, BatchUnlabelled / 4);
    }

    public static int Run(string[] args)
    {
        Options o;
        string[] sections;
        try
        {
            o = new Options(BenchmarkOptions.Get(args, "--device", "cuda"), BenchmarkOptions.Get(args, "--case", "r50"),
                BenchmarkOptions.Get(args, "--batch", 64), BenchmarkOptions.Get(args, "--size", 224), BenchmarkOptions.Get(args, "--warmup", 3),
                BenchmarkOptions.Get(args, "--runs", 20), BenchmarkOptions.Get(args, "--threads", Environment.ProcessorCount),
                BenchmarkOptions.Get(args, "--forms", "direct,two_stage").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            sections = BenchmarkOptions.Get(args, "--sections", string.Join(',', AllSections)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        catch (FormatException e) { return Usage(e.Message); }
        if (sections.Except(AllSections).ToList() is { Count: > 0 } unknown) return Usage($"unknown section(s) {string.Join(", ", unknown)}");
        if (o.Case is not ("r50" or "quickstart")) return Usage($"--case '{o.Case}': expected r50 or quickstart");
        if (o.Forms.Except(KnownNames.ChannelReductions).ToList() is { Count: > 0 } badForms) return Usage($"--forms: unknown {string.Join(", ", badForms)}");
        if (o.BatchUnlabelled < 1 || o.Size < 32 || o.Runs < 1 || o.Warmup < 0 || o.Threads < 1) return Usage("--batch >= 1, --size >= 32, --runs >= 1, --warmup >= 0, --threads >= 1");

        Console.WriteLine($"command: SemPPL.Benchmarks cuda-profile {string.Join(' ', args)}");
        Console.WriteLine($"machine: {Machine.Cpu()}, {Environment.ProcessorCount} cores visible, {RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        Console.WriteLine($"CUDA_LAUNCH_BLOCKING={Environment.GetEnvironmentVariable("CUDA_LAUNCH_BLOCKING") ?? "(unset)"}; " +
                          $"cuDNN algorithms {Environment.GetEnvironmentVariable(SessionFactory.ConvAlgorithmSearchVariable) ?? "HEURISTIC"}; ORT threads {o.Threads}");
        SessionFactory factory;
        try { factory = new SessionFactory(ExecutionDevice.Parse(o.Device), new SessionSettings { IntraOpThreads = o.Threads, AllowSpinning = false }); }
        catch (Exception e) when (e is DeviceUnavailableException or ConfigException) { Console.Error.WriteLine($"cuda-profile: {e.Message}"); return 2; }
        using (factory)
        {
            var shapes = new ResNet50Shapes(o.N, o.Size);
            Console.WriteLine($"device {factory.Description}; ResNet-50 shapes at {o.Size} px, N = {o.N} images a forward pass (B_u {o.BatchUnlabelled} + B_l {o.N - o.BatchUnlabelled}); " +
                              $"{o.Warmup} warm-up + {o.Runs} timed runs a case, medians");
            TorchSide? torch = null;
            if (BenchmarkOptions.Get(args, "--torch", "on") != "off" && sections.Any(s => s != "profile"))
            {
                torch = TorchSide.Run(TorchSpec(o, shapes, sections), 600_000);
                Console.WriteLine(torch.Status);
            }
            int failed = 0;
            foreach (var section in sections)
            {
                Console.WriteLine();
                Console.WriteLine($"== {section}");
                long t0 = Stopwatch.GetTimestamp();
                try
                {
                    switch (section)
                    {
                        case "profile": Profile(factory, o); break;
                        case "reduce": Reductions(factory, o, shapes, torch); break;
                        case "bn": BatchNorms(factory, o, shapes, torch); break;
                        case "wgrad": WeightGradients(factory, o, shapes, torch); break;
                        case "upload": Upload(factory, o, shapes, torch); break;
                    }
                }
                catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException or ArgumentException or NotSupportedException
                                              or ShapeException or OutOfMemoryException or IOException)
                {
                    Console.WriteLine($"  section {section} FAILED: {e.GetType().Name}: {e.Message.Trim().Split('\n')[0]}");
                    failed++;
                }
                Console.WriteLine($"  ({section}: {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1} s)");
            }
            if (_mismatches > 0) Console.WriteLine($"{_mismatches} result(s) outside their tolerance: see MISMATCH above");
            return failed == 0 && _mismatches == 0 ? 0 : 1;
        }
    }

    private static int Usage(string why)
    {
        Console.Error.WriteLine($"cuda-profile: {why}\nusage: SemPPL.Benchmarks cuda-profile [--device cuda|cpu] [--case r50|quickstart] " +
                                $"[--sections {string.Join(',', AllSections)}] [--forms direct,two_stage] [--batch B_u] [--size px] [--warmup N] [--runs N] [--threads N] [--torch on|off]");
        return 2;
    }

    private static JsonObject TorchSpec(Options o, ResNet50Shapes shapes, string[] sections)
    {
        static JsonArray Dims(long[] d) => new(d.Select(v => (JsonNode)v).ToArray());
        return new JsonObject
        {
            ["device"] = o.Device.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : "cpu",
            ["warmup"] = o.Warmup, ["runs"] = o.Runs, ["threads"] = o.Threads,
            ["reduce"] = sections.Contains("reduce") ? new JsonArray(shapes.BatchNorms.Select(b => (JsonNode)Dims(b.Shape)).ToArray()) : new JsonArray(),
            ["bn"] = sections.Contains("bn") ? new JsonArray(shapes.BatchNorms.Select(b => (JsonNode)Dims(b.Shape)).ToArray()) : new JsonArray(),
            ["bn_epsilon"] = 1e-5, ["bn_momentum"] = 0.9,
            ["wgrad"] = sections.Contains("wgrad")
                ? new JsonArray(shapes.Convs.Select(c => (JsonNode)new JsonObject { ["x"] = Dims(c.X), ["w"] = Dims(c.W), ["stride"] = c.Stride, ["pad"] = c.Pad }).ToArray())
                : new JsonArray(),
            ["upload"] = sections.Contains("upload") ? Dims(UploadShape(o)) : null,
        };
    }

    // ------------------------------------------------------------------ profile

    private static void Profile(SessionFactory factory, Options o)
    {
        if (factory.IsCuda && Environment.GetEnvironmentVariable("CUDA_LAUNCH_BLOCKING") != "1")
            Console.WriteLine("  CUDA_LAUNCH_BLOCKING is not 1: the node times below time kernel launches, not kernels");
        string root = ReferenceHarness.RepoRoot();
        foreach (var form in o.Forms)
        {
            var (config, labelled) = o.Case == "r50"
                ? StepBenchmark.Load(root, "imagenet-r50-1pct.yaml", o.Size, 3, o.BatchUnlabelled, o.Device, form)
                : StepBenchmark.Load(root, "quickstart.yaml", 28, 1, o.BatchUnlabelled, o.Device, form);
            if (config.Objective.Negatives != "all" && config.NegativesCount() >= config.Training.TotalBatch())
                config.Objective.Negatives = "all"; // a small --batch: every other image
            long t0 = Stopwatch.GetTimestamp();
            var (_, artifacts, manifest) = StepBenchmark.Prepare(config, labelled);
            var s = manifest.Shapes;
            var batch = ReferenceHarness.MakeBatch(s, seed: 1);
            Console.WriteLine($"  {o.Case}, model.channel_reduction: {form}: B = {s.BatchUnlabelled} + {s.BatchLabelled} per view, L = {s.LargeViews}, " +
                              $"{s.LargeSize} px; target.onnx {manifest.Graphs["target"].Nodes} nodes, train.onnx {manifest.Graphs["train"].Nodes} " +
                              $"(artifacts ready in {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1} s)");
            foreach (var file in new[] { ArtifactNames.TargetFile, ArtifactNames.TrainFile })
                GraphOpProfile.Print(factory, file, artifacts, manifest, batch.Large, batch.Labels);
        }
    }

    // ------------------------------------------------------------------ reductions

    private static void Reductions(SessionFactory factory, Options o, ResNet50Shapes shapes, TorchSide? torch)
    {
        Console.WriteLine("  per-channel mean of [N,C,H,W] (one BatchNorm statistic): ReduceMean over axes 0,2,3 (direct) vs reshape to [N,C,H*W],");
        Console.WriteLine("  ReduceMean of the last axis, then the first (two_stage); error: largest |ours - double reference| (tolerance 1e-5)");
        Console.WriteLine($"  {"shape x layers",-26} {"direct",-24} {"GB/s",6} {"two_stage",-24} {"GB/s",6} {"ratio",5}  {"torch direct",-11}  {"torch 2-stage",-11}  error d / 2s");
        double sumDirect = 0, sumTwo = 0, sumTorch = 0;
        for (int i = 0; i < shapes.BatchNorms.Count; i++)
        {
            var bn = shapes.BatchNorms[i];
            var x = Uniform(bn.Shape, 100 + i, offset: 0.25f);
            var reference = ChannelStatistics(x).Mean;
            (Timing T, double Error) Time(ChannelReductionForm form)
            {
                var g = new GraphBuilder("reduce") { ChannelReduction = form };
                g.Output(g.ReduceMean(g.Input("x", DType.Float, bn.Shape), [0, 2, 3]), "mean");
                using var run = new BoundGraph(factory, g, new Dictionary<string, HostTensor> { ["x"] = x });
                var t = run.Time(o.Warmup, o.Runs);
                return (t, LargestError(run.Output("mean"), reference));
            }
            var (direct, directError) = Time(ChannelReductionForm.Direct);
            var (two, twoError) = Time(ChannelReductionForm.TwoStage);
            sumDirect += bn.Layers * direct.Median; sumTwo += bn.Layers * two.Median;
            sumTorch += bn.Layers * (torch?.Ms("reduce", i) ?? double.NaN);
            Console.WriteLine($"  {bn.Label,-26} {direct,-24} {direct.GigabytesPerSecond(bn.Bytes),6:F0} {two,-24} {two.GigabytesPerSecond(bn.Bytes),6:F0} " +
                              $"{direct.Median / two.Median,5:F2}  {TorchSide.Column(torch?.Ms("reduce", i))}  {TorchSide.Column(torch?.Ms("reduce_two_stage", i))}  {Checked(directError, 1e-5)} / {Checked(twoError, 1e-5)}");
        }
        Console.WriteLine($"  all {shapes.BatchNorms.Sum(b => b.Layers)} BatchNorm layers, one reduction each: direct {Total(sumDirect)}, two_stage {Total(sumTwo)}, PyTorch {Total(sumTorch)} " +
                          "(a training BatchNorm reduces twice forward and twice backward, per view)");
    }

    // ------------------------------------------------------------------ BatchNorm forward

    private static void BatchNorms(SessionFactory factory, Options o, ResNet50Shapes shapes, TorchSide? torch)
    {
        const float eps = 1e-5f, momentum = 0.9f;
        Console.WriteLine("  training BatchNorm forward (y and the running statistics): today = Layers.BatchNorm.Training (direct reductions),");
        Console.WriteLine("  two_stage = the same with model.channel_reduction two_stage, fused = one opset-13 BatchNormalization (training_mode 1, 5 outputs);");
        Console.WriteLine("  error: largest |y - double reference| / largest |running var - reference| (tolerances 1e-4 / 1e-5)");
        if (!factory.IsCuda) Console.WriteLine("  fused: not available on this EP (ORT's CPU build has no training-mode BatchNormalization kernel)");
        double sumToday = 0, sumTwo = 0, sumFused = 0, sumTorch = 0;
        for (int i = 0; i < shapes.BatchNorms.Count; i++)
        {
            var bn = shapes.BatchNorms[i];
            long c = bn.C;
            var rng = new Random(200 + i);
            var inputs = new Dictionary<string, HostTensor>
            {
                ["x"] = Uniform(bn.Shape, 300 + i, offset: 0.5f),
                ["scale"] = HostTensor.Float([c], Enumerable.Range(0, (int)c).Select(_ => 0.5f + rng.NextSingle()).ToArray()),
                ["bias"] = HostTensor.Float([c], Enumerable.Range(0, (int)c).Select(_ => rng.NextSingle() - 0.5f).ToArray()),
                ["running_mean"] = HostTensor.Float([c], new float[c]),
                ["running_var"] = HostTensor.Float([c], Enumerable.Repeat(1f, (int)c).ToArray()),
            };
            var (mean, biased, unbiased) = ChannelStatistics(inputs["x"]);
            var newVar = unbiased.Select(v => momentum + (1 - momentum) * v).ToArray();
            string Check(BoundGraph run, string y, string runningVar)
            {
                var yr = run.Output(y);
                var sc = inputs["scale"].Floats; var bi = inputs["bias"].Floats; var xs = inputs["x"].Floats;
                long inner = bn.H * bn.H;
                double worst = 0;
                for (long k = 0; k < xs.Length; k++)
                {
                    long ch = k / inner % c;
                    double expected = (xs[k] - mean[ch]) / Math.Sqrt(biased[ch] + eps) * sc[ch] + bi[ch];
                    worst = Math.Max(worst, Math.Abs(yr.Floats[k] - expected));
                }
                return $"{Checked(worst, 1e-4)} / {Checked(LargestError(run.Output(runningVar), newVar), 1e-5)}";
            }
            (Timing T, string Error) Ours(ChannelReductionForm form)
            {
                var g = new GraphBuilder("bn") { ChannelReduction = form };
                var r = BatchNorm.Training(g, g.Input("x", DType.Float, bn.Shape), g.Input("scale", DType.Float, c), g.Input("bias", DType.Float, c),
                    g.Input("running_mean", DType.Float, c), g.Input("running_var", DType.Float, c), momentum, eps);
                g.Output(r.Y, "y"); g.Output(r.NewRunningMean, "new_mean"); g.Output(r.NewRunningVar, "new_var");
                using var run = new BoundGraph(factory, g, inputs);
                return (run.Time(o.Warmup, o.Runs), Check(run, "y", "new_var"));
            }
            var today = Ours(ChannelReductionForm.Direct);
            var two = Ours(ChannelReductionForm.TwoStage);
            string fused = "n/a on this EP";
            if (factory.IsCuda)
            {
                try
                {
                    var g = new GraphBuilder("bn_fused", opset: 13);
                    var outs = g.AddNode("BatchNormalization",
                        [g.Input("x", DType.Float, bn.Shape), g.Input("scale", DType.Float, c), g.Input("bias", DType.Float, c), g.Input("running_mean", DType.Float, c), g.Input("running_var", DType.Float, c)],
                        [(DType.Float, bn.Shape), (DType.Float, [c]), (DType.Float, [c]), (DType.Float, [c]), (DType.Float, [c])],
                        new() { ["epsilon"] = Attr.Float(eps), ["momentum"] = Attr.Float(momentum), ["training_mode"] = Attr.Int(1) });
                    string[] names = ["y", "new_mean", "new_var", "saved_mean", "saved_inv_std"];
                    for (int k = 0; k < 5; k++) g.Output(outs[k], names[k]);
                    using var run = new BoundGraph(factory, g, inputs);
                    var t = run.Time(o.Warmup, o.Runs);
                    sumFused += bn.Layers * t.Median;
                    fused = $"{t} {Check(run, "y", "new_var")}";
                }
                catch (OnnxRuntimeException e) { fused = $"cannot run: {e.Message.Trim().Split('\n')[0]}"; sumFused = double.NaN; }
            }
            sumToday += bn.Layers * today.T.Median; sumTwo += bn.Layers * two.T.Median; sumTorch += bn.Layers * (torch?.Ms("bn", i) ?? double.NaN);
            Console.WriteLine($"  {bn.Label,-26} today {today.T} {today.Error}; two_stage {two.T} {two.Error}; torch {TorchSide.Column(torch?.Ms("bn", i))}; fused {fused}");
        }
        Console.WriteLine($"  all {shapes.BatchNorms.Sum(b => b.Layers)} BatchNorm layers (one view's forward): today {Total(sumToday)}, two_stage {Total(sumTwo)}, " +
                          $"fused {Total(factory.IsCuda ? sumFused : double.NaN)}, PyTorch {Total(sumTorch)}");
    }

    // ------------------------------------------------------------------ Conv weight gradient

    private static void WeightGradients(SessionFactory factory, Options o, ResNet50Shapes shapes, TorchSide? torch)
    {
        Console.WriteLine("  Conv weight gradient dW from x and dY: today = the Conv rule's choice (Gather + MatMul per tap, or the dilated Conv for huge");
        Console.WriteLine("  column buffers), position_major = one Gather + one GEMM (GatherIm2ColWide), batched_1x1 = FusedMatMul per sample + ReduceSum (1x1 only),");
        Console.WriteLine("  dilated = the batch-as-channels Conv; torch = cuDNN backward-filter. diff: largest |form - today| / largest |today|\n" +
                          "  (tolerance 1e-4; 1e-2 on CUDA, whose matmuls and convolutions run in TF32)");
        double sumToday = 0, sumBest = 0, sumTorch = 0;
        for (int i = 0; i < shapes.Convs.Count; i++)
        {
            var cv = shapes.Convs[i];
            long ho = cv.Out;
            long[] yShape = [cv.N, cv.M, ho, ho];
            var geo = new ConvGeometry([cv.Stride, cv.Stride], [cv.Pad, cv.Pad, cv.Pad, cv.Pad], [1, 1], 1, cv.X, cv.W, yShape);
            var inputs = new Dictionary<string, HostTensor> { ["x"] = Uniform(cv.X, 400 + i), ["dy"] = Uniform(yShape, 500 + i) };
            var forms = new List<(string Name, Func<GraphBuilder, Value, Value, Value> Build)>
            {
                ("today", (g, x, dy) => ConvBackward.WeightGradient(g, x, dy, geo)),
                ("position_major", (g, x, dy) => ConvBackward.WeightGradient(g, x, dy, geo, ConvWeightGradMethod.GatherIm2ColWide)),
                ("dilated", (g, x, dy) => ConvBackward.WeightGradientDilatedConv(g, x, dy, geo)),
            };
            if (cv.K == 1 && cv.Pad == 0) forms.Insert(2, ("batched_1x1", (g, x, dy) => ConvWeightGradientForms.BatchedMatMul1x1(g, x, dy, geo)));
            HostTensor? today = null;
            var cells = new List<string>();
            double best = double.PositiveInfinity, todayMs = double.NaN;
            foreach (var (name, build) in forms)
            {
                try
                {
                    var g = new GraphBuilder("wgrad");
                    g.Output(build(g, g.Input("x", DType.Float, cv.X), g.Input("dy", DType.Float, yShape)), "dw");
                    string how = name == "today" ? (g.Nodes.Any(n => n.OpType == "Gather") ? " (gather)" : " (dilated)") : "";
                    using var run = new BoundGraph(factory, g, inputs);
                    var t = run.Time(o.Warmup, o.Runs);
                    var dw = run.Output("dw");
                    today ??= dw;
                    best = Math.Min(best, t.Median);
                    if (name == "today") todayMs = t.Median;
                    cells.Add($"{name}{how} {t.Median:F3} ms" + (name == "today" ? "" : $" diff {Checked(LargestDifference(dw, today), factory.IsCuda ? 1e-2 : 1e-4)}"));
                }
                catch (Exception e) when (e is OnnxRuntimeException or OutOfMemoryException)
                {
                    cells.Add($"{name} cannot run: {e.Message.Trim().Split('\n')[0]}");
                }
            }
            sumToday += cv.Layers * todayMs; sumBest += cv.Layers * best; sumTorch += cv.Layers * (torch?.Ms("wgrad", i) ?? double.NaN);
            Console.WriteLine($"  {cv.Label}");
            Console.WriteLine($"      {string.Join("; ", cells)}; torch {TorchSide.Column(torch?.Ms("wgrad", i))}");
        }
        Console.WriteLine($"  these {shapes.Convs.Sum(c => c.Layers)} of ResNet-50's 53 convs (one view): today {Total(sumToday)}, the fastest form per kind {Total(sumBest)}, PyTorch {Total(sumTorch)}");
    }

    // ------------------------------------------------------------------ upload

    private static long[] UploadShape(Options o) => [2, o.N, 3, o.Size, o.Size];

    private static void Upload(SessionFactory factory, Options o, ResNet50Shapes shapes, TorchSide? torch)
    {
        long[] shape = UploadShape(o);
        var host = Uniform(shape, 600);
        long bytes = host.ElementCount * sizeof(float);
        Console.WriteLine($"  the step's large views [{string.Join(",", shape)}] ({bytes / 1e6:F1} MB) host to device, as a run binds them (bind + run of an Identity graph)");
        if (!factory.IsCuda)
        {
            // no device copy on the CPU EP: a host input is read in place. For scale: one copy of the same bytes.
            using var dst = DeviceTensor.AllocateHost(factory, "copy", DType.Float, shape);
            var ms = new List<double>();
            for (int i = 0; i < o.Warmup + o.Runs; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                dst.Upload<float>(host.Floats);
                if (i >= o.Warmup) ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            var t = Timing.Of(ms);
            Console.WriteLine($"  pageable vs pinned: not applicable on this EP (graph inputs are read in place); a host copy of the bytes: {t}, {t.GigabytesPerSecond(bytes):F1} GB/s; " +
                              $"torch copy {TorchSide.Column(torch?.Upload("pageable"))}");
            return;
        }
        var g = new GraphBuilder("upload");
        g.Output(g.AddNode1("Identity", [g.Input("x", DType.Float, shape)], DType.Float, shape), "y");
        using var session = factory.CreateSession(g.ToBytes());
        using var binding = session.CreateIoBinding();
        using var runOptions = new RunOptions();
        using var output = DeviceTensor.Allocate(factory, "y", DType.Float, shape);
        using var onDevice = DeviceTensor.FromHost(factory, "x", host);
        binding.BindOutput("y", output.Value);
        Timing Time(OrtValue source)
        {
            var ms = new List<double>();
            for (int i = 0; i < o.Warmup + o.Runs; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                binding.BindInput("x", source); // a host source is copied here, at bind time
                session.RunWithBinding(runOptions, binding);
                if (i >= o.Warmup) ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            return Timing.Of(ms);
        }
        Console.WriteLine($"  device source (the Identity run alone): {Time(onDevice.Value)}");
        using (var pageable = OrtValue.CreateTensorValueFromMemory(host.Floats, shape))
        {
            var t = Time(pageable);
            Console.WriteLine($"  pageable: {t}, {t.GigabytesPerSecond(bytes):F1} GB/s; torch .to(cuda) {TorchSide.Column(torch?.Upload("pageable"))}");
        }
        // pinned staging from the CUDA EP's pinned allocator, as a pinned upload of the batch would use
        using var pinnedInfo = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA_PINNED, OrtAllocatorType.DeviceAllocator, factory.DeviceId, OrtMemType.CpuOutput);
        using var pinnedAllocator = new OrtAllocator(session, pinnedInfo);
        using var pinned = OrtValue.CreateAllocatedTensorValue(pinnedAllocator, TensorElementType.Float, shape);
        host.Floats.CopyTo(pinned.GetTensorMutableDataAsSpan<float>());
        var fromPinned = Time(pinned);
        Console.WriteLine($"  pinned:   {fromPinned}, {fromPinned.GigabytesPerSecond(bytes):F1} GB/s; torch pinned .to(cuda, non_blocking) {TorchSide.Column(torch?.Upload("pinned"))}");
    }

    // ------------------------------------------------------------------ helpers

    private static int _mismatches;

    /// <summary>An error in scientific notation, marked MISMATCH (and counted) above <paramref name="tolerance"/>.</summary>
    private static string Checked(double error, double tolerance)
    {
        if (error <= tolerance) return Sci(error);
        _mismatches++;
        return $"{Sci(error)} MISMATCH (> {Sci(tolerance)})";
    }

    private static string Total(double ms) => double.IsNaN(ms) ? "n/a" : $"{ms:F2} ms";

    private static string Sci(double v) => v.ToString("0.0e+0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Uniform [-1, 1) + offset, deterministic per seed, filled in parallel chunks (ResNet-50 activations are up to 64 M floats).</summary>
    private static HostTensor Uniform(long[] shape, int seed, float offset = 0f)
    {
        var data = new float[shape.Aggregate(1L, (a, d) => a * d)];
        const int chunk = 1 << 20;
        Parallel.For(0, (data.Length + chunk - 1) / chunk, k =>
        {
            var rng = new Random(seed * 7919 + k);
            int end = Math.Min(data.Length, (k + 1) * chunk);
            for (int i = k * chunk; i < end; i++) data[i] = rng.NextSingle() * 2 - 1 + offset;
        });
        return HostTensor.Float(shape, data);
    }

    /// <summary>Per-channel mean, biased and unbiased variance of [N, C, H, W] in double.</summary>
    private static (double[] Mean, double[] Biased, double[] Unbiased) ChannelStatistics(HostTensor x)
    {
        long n = x.Shape[0], c = x.Shape[1], inner = x.Shape[2] * x.Shape[3], count = n * inner;
        var f = x.Floats;
        var mean = new double[c]; var biased = new double[c]; var unbiased = new double[c];
        Parallel.For(0, (int)c, ch =>
        {
            double s = 0;
            for (long b = 0; b < n; b++) for (long k = 0; k < inner; k++) s += f[(b * c + ch) * inner + k];
            double m = s / count, q = 0;
            for (long b = 0; b < n; b++) for (long k = 0; k < inner; k++) { double d = f[(b * c + ch) * inner + k] - m; q += d * d; }
            mean[ch] = m; biased[ch] = q / count; unbiased[ch] = q / Math.Max(1, count - 1);
        });
        return (mean, biased, unbiased);
    }

    private static double LargestError(HostTensor actual, double[] expected)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual.GetDouble(i) - expected[i]));
        return worst;
    }

    private static double LargestDifference(HostTensor a, HostTensor b)
    {
        double worst = 0, scale = 0;
        for (int i = 0; i < a.Floats.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a.Floats[i] - b.Floats[i]));
            scale = Math.Max(scale, Math.Abs(b.Floats[i]));
        }
        return worst / Math.Max(scale, 1e-30);
    }
}

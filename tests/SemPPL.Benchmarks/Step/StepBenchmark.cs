using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Lowering;
using SemPPL.Tests.Reference;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Benchmarks.Step;

/// <summary>
/// Median wall time of one whole SemPPL step, ours (StepGraphs.RunStep: target, queue, pseudolabel, train,
/// optimizer, EMA) against the PyTorch reference of the same step (tests/reference/semppl_torch, started here,
/// same artifact set, weights, batch and host randomness), with the share of each of our graphs.
/// Cases: (a) cifar10.yaml's ResNet-18 (small stem, width 1, heads 4096/256) at 32x32x3;
/// (b) quickstart.yaml's network (ResNet-18, its stem (small-s2), width 0.25, heads 256/64) at 28x28x1.
/// Both: B_u = 64 + B_l = 16 = 80 images per view, 2 large views, no small views.
/// (r50, for a GPU: scripts/gpu/check-cuda.sh) imagenet-r50-1pct.yaml's ResNet-50 (heads 4096/256) at 224x224x3,
/// L = 2, S = 0, B = --batch (default 64) + a quarter labelled.
/// Options: --case a|b|both|r50, --warmup N (2), --steps N (5), --threads N (2; torch's threads), --ort-threads N (default: what a
/// run of the case's config uses, its threads key: cifar10.yaml the processor count, quickstart.yaml 1), --spinning on|off (off, as runs),
/// --device cpu|cuda (both sides), --batch B_u, --torch on|off (off: ours only), --torch-memory-format auto|contiguous|channels_last (auto:
/// PyTorch runs both layouts' warm-ups and probe steps and is timed in the faster, so the baseline has its best layout on the machine at hand), --channel-reduction direct|two_stage (model.channel_reduction), --profile (ORT profile of a copy of train.onnx, lowered as the trainer lowers it: top ops by time, CPU),
/// --weight-gradient-product nchwc|matmul (nchwc, as runs: the CPU lowering's pointwise form of the Conv weight gradients' products; matmul: left as MatMuls, for A/B),
/// --strided-input-gradient nchwc|convtranspose (nchwc, as runs: strided Conv input gradients as per-phase NCHWc convolutions; convtranspose: ORT's ConvTranspose, for A/B),
/// --zero-mask mul|where (mul, as runs: Where(mask, x, 0) as Mul(x, Cast(mask)); where: ORT's Where, for A/B),
/// --winograd on|off (on, as runs: 3x3 convolutions of small images with many channels as Winograd products; off: NCHWc).
/// </summary>
public static class StepBenchmark
{
    private const double Lr = 0.05, Tau = 0.99; // both sides' learning rate and EMA rate

    public static int Run(string[] args)
    {
        string which = BenchmarkOptions.Get(args, "--case", "both");
        int warmup = BenchmarkOptions.Get(args, "--warmup", 2), steps = BenchmarkOptions.Get(args, "--steps", 5);
        int threads = BenchmarkOptions.Get(args, "--threads", 2);
        int ortThreads = BenchmarkOptions.Get(args, "--ort-threads", 0); // 0: what a run of the case's config uses
        bool spinning = BenchmarkOptions.Get(args, "--spinning", "off") switch
        {
            "on" => true, "off" => false,
            var v => throw new ArgumentException($"--spinning '{v}': expected on or off"),
        };
        bool profile = args.Contains("--profile");
        NchwcSupport.Forms = new NchwcLoweringForms(
            WeightGradientProducts: BenchmarkOptions.Get(args, "--weight-gradient-product", "nchwc") switch
            {
                "nchwc" => true, "matmul" => false,
                var v => throw new ArgumentException($"--weight-gradient-product '{v}': expected nchwc or matmul"),
            },
            StridedInputGradients: BenchmarkOptions.Get(args, "--strided-input-gradient", "nchwc") switch
            {
                "nchwc" => true, "convtranspose" => false,
                var v => throw new ArgumentException($"--strided-input-gradient '{v}': expected nchwc or convtranspose"),
            },
            ZeroMasksAsMul: BenchmarkOptions.Get(args, "--zero-mask", "mul") switch
            {
                "mul" => true, "where" => false,
                var v => throw new ArgumentException($"--zero-mask '{v}': expected mul or where"),
            },
            WinogradSmallImages: BenchmarkOptions.Get(args, "--winograd", "on") switch
            {
                "on" => true, "off" => false,
                var v => throw new ArgumentException($"--winograd '{v}': expected on or off"),
            });
        string device = BenchmarkOptions.Get(args, "--device", "cpu");
        int batchU = BenchmarkOptions.Get(args, "--batch", 64);
        string? reduction = BenchmarkOptions.Get(args, "--channel-reduction"); // model.channel_reduction (default: the config's)
        Console.WriteLine($"command: SemPPL.Benchmarks step {string.Join(' ', args)}");
        Console.WriteLine($"machine: {Machine.Cpu()}, {Environment.ProcessorCount} cores visible, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
        Console.WriteLine($"load average at start: {Machine.LoadAverage()}");
        Console.WriteLine($"threads: ORT intra-op {(ortThreads > 0 ? ortThreads.ToString() : "as the case's config (threads key)")} (spinning {(spinning ? "on" : "off")}), " +
                          $"torch.set_num_threads({threads}), {OpenBlasCoreType.Current}; warm-up {warmup}, timed {steps} steps");
        if (device == "cpu")
            Console.WriteLine($"CPU convolutions: {(SessionFactory.CpuConvLayoutFromEnvironment && NchwcSupport.BlockSize > 1
                ? $"lowered to ORT's NCHWc kernels, block {NchwcSupport.BlockSize}{(NchwcSupport.Forms.Exceptions is { Length: > 0 } off ? "; " + off : "; all forms (weight-gradient products, strided input gradients, zero masks as Mul, Winograd on small images)")}"
                : "as written (ORT Conv / ConvTranspose)")} ({SessionFactory.CpuConvLayoutVariable})");
        if (device != "cpu")
            Console.WriteLine($"cuDNN convolution algorithms: ours {Environment.GetEnvironmentVariable(SessionFactory.ConvAlgorithmSearchVariable) ?? "HEURISTIC"} " +
                              $"({SessionFactory.ConvAlgorithmSearchVariable}), PyTorch cudnn.benchmark = True; TF32 on both sides");
        // null: ours only (machines without PyTorch); otherwise the reference's --memory-format
        string? torch = BenchmarkOptions.Get(args, "--torch", "on") == "off" ? null : BenchmarkOptions.Get(args, "--torch-memory-format", "auto") switch
        {
            var v when v is "auto" or "contiguous" or "channels_last" => v,
            var v => throw new ArgumentException($"--torch-memory-format '{v}': expected auto, contiguous or channels_last"),
        };
        if (torch is not null && ReferenceHarness.TorchUnavailableReason() is { } why) { Console.Error.WriteLine($"step benchmark needs PyTorch (or --torch off): {why}"); return 1; }
        string root = ReferenceHarness.RepoRoot();
        if (which is "a" or "both") Case("(a) resnet18 small stem w1, heads 4096/256, 32x32x3", Load(root, "cifar10.yaml", 32, 3, 64, device, reduction), warmup, steps, threads, ortThreads, spinning, profile, device, torch);
        if (which is "b" or "both") Case("(b) quickstart: resnet18 {stem} stem w0.25, heads 256/64, 28x28x1", Load(root, "quickstart.yaml", 28, 1, 64, device, reduction), warmup, steps, threads, ortThreads, spinning, profile, device, torch);
        if (which is "r50") Case("(r50) resnet50 imagenet stem, heads 4096/256, 224x224x3", Load(root, "imagenet-r50-1pct.yaml", 224, 3, batchU, device, reduction), warmup, steps, threads, ortThreads, spinning, profile, device, torch);
        return 0;
    }

    /// <summary>A case's config: its file with the step benchmark's views and batch (also used by cuda-profile).</summary>
    public static (SemPPLConfig Config, int Labelled) Load(string root, string file, int size, int channels, int batchU, string device, string? channelReduction = null)
    {
        var c = ConfigLoader.Load(Path.Combine(root, "configs", file));
        if (channelReduction is not null) c.Model.ChannelReduction = channelReduction;
        c.Augment.LargeViews = 2; c.Augment.SmallViews = 0; c.Augment.LargeSize = size; c.Augment.Channels = channels;
        c.Training.BatchUnlabelled = batchU; c.Training.BatchLabelled = Math.Max(1, batchU / 4);
        c.Device = device;
        // labelled images (sets the auto queue capacity): labels_per_class x classes, else 1% of 1.28 M (ImageNet subsets)
        return (c, c.Data.LabelsPerClass is { } lpc ? lpc * c.Model.NumClasses : 12_811);
    }

    /// <summary>The case's artifact set, generated once per config hash under the temp folder (reused by later runs).</summary>
    public static (string Dir, string Artifacts, Manifest Manifest) Prepare(SemPPLConfig config, int labelled)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"semppl-stepbench-{ConfigHash.Compute(config, labelled)[..12]}");
        string artifacts = Path.Combine(dir, "artifacts");
        return (dir, artifacts, RunSetup.EnsureArtifacts(config, labelled, artifacts, _ => { }));
    }

    private static void Case(string title, (SemPPLConfig Config, int Labelled) setup, int warmup, int steps, int threads, int ortThreads, bool spinning, bool profile, string device, string? torch)
    {
        var (config, labelled) = setup;
        title = title.Replace("{stem}", config.Model.Stem);
        if (ortThreads <= 0) ortThreads = SessionSettings.ForRun(config.Threads).IntraOpThreads!.Value;
        var (dir, artifacts, manifest) = Prepare(config, labelled);
        var s = manifest.Shapes;
        Console.WriteLine();
        Console.WriteLine($"{title}: B = {s.BatchUnlabelled} + {s.BatchLabelled} per view, L = {s.LargeViews}, queue {s.QueueCapacity}, ORT intra-op threads {ortThreads}, " +
                          $"{manifest.ParameterCounts.Total:N0} online parameters, train.onnx {manifest.Graphs["train"].Nodes} nodes");
        var batch = ReferenceHarness.MakeBatch(s, seed: 1);

        // ours
        var times = new List<double>();
        (long, long)? cpuBefore, cpuAfter;
        var timings = new StepTimings(manifest.Step);
        using (var run = new OurStepRunner(config, artifacts, manifest, batch, new SessionSettings { IntraOpThreads = ortThreads, AllowSpinning = spinning }, device))
        {
            for (int k = 0; k < warmup; k++) run.Step(k, Lr, Tau);
            cpuBefore = Machine.CpuTimes();
            for (int k = 0; k < steps; k++)
            {
                long t0 = Stopwatch.GetTimestamp();
                run.Step(warmup + k, Lr, Tau, timings);
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            cpuAfter = Machine.CpuTimes();
        }
        double ours = Median(times);
        Console.WriteLine($"  ours:    median {ours:F1} ms/step (min {times.Min():F1}), {s.Batch * 1000.0 / ours:F1} images/s ({s.LargeViews} views each); {Machine.StealShare(cpuBefore, cpuAfter)}");
        Console.WriteLine($"           {StepProfile.Format(timings)}");
        double total = timings.Totals.Sum(t => t.TotalMilliseconds);
        double between = timings.Totals[1].TotalMilliseconds + timings.Totals[2].TotalMilliseconds + timings.Totals[4].TotalMilliseconds + timings.Totals[5].TotalMilliseconds;
        Console.WriteLine($"           between-step graphs (queue, pseudolabel, optimizer, ema): {100 * between / total:F1}% of the step");

        double? torchMedian = torch is null ? null : Torch(config, s, batch, dir, artifacts, ours, times.Min(), warmup, steps, threads, device, torch);
        Console.WriteLine($"  load average now: {Machine.LoadAverage()}");
        if (profile && device == "cpu")
        {
            // the step's session options and lowering (SessionFactory), plus profiling
            using var factory = new SessionFactory(ExecutionDevice.Parse("cpu"), new SessionSettings { IntraOpThreads = ortThreads, AllowSpinning = spinning });
            var totals = new[] { ArtifactNames.TrainFile, ArtifactNames.TargetFile, ArtifactNames.OptimizerFile, ArtifactNames.EmaFile }
                .Select(file => GraphOpProfile.Print(factory, file, artifacts, manifest, batch.Large, batch.Labels)).ToList();
            PrintProductFloor(totals.Sum(t => t.ProductMs), totals.Sum(t => t.NodeMs), ours, torchMedian);
        }
    }

    /// <summary>
    /// The step's floor at these kernels: the product kernels' profiled time, scaled to the unprofiled step by our
    /// median over the profiled node time (profiling inflates the many small nodes most, so the scaled time understates
    /// the products: a lower bound), and what it leaves of a ratio against PyTorch.
    /// </summary>
    private static void PrintProductFloor(double productMs, double nodeMs, double ours, double? torchMedian)
    {
        double scaled = productMs * Math.Min(1, ours / nodeMs);
        string ratio = torchMedian is { } t ? $"; {scaled / t:F2}x PyTorch's median, before any other op" : "";
        Console.WriteLine($"  product kernels per step (all profiled graphs): {productMs:F1} ms profiled, {scaled:F1} ms scaled to our median " +
                          $"({100 * productMs / nodeMs:F1}% of the node time){ratio}");
    }

    /// <summary>The PyTorch reference of the same step (same inputs), and the ratio to ours. Returns PyTorch's median.</summary>
    private static double Torch(SemPPLConfig config, ArtifactShapes s, (float[] Large, float[] Small, long[] Labels) batch, string dir, string artifacts,
        double ours, double oursMin, int warmup, int steps, int threads, string device, string memoryFormat)
    {
        string inputs = Path.Combine(dir, "inputs.spt");
        ReferenceHarness.WriteInputs(inputs, config, s, batch, [Lr, Lr], [Tau, Tau]);
        var cpuBefore = Machine.CpuTimes(); // (around the whole process: its start and warm-up too)
        var r = ReferenceHarness.RunReference(["bench", "--artifacts", artifacts, "--inputs", inputs, "--warmup", warmup.ToString(),
            "--steps", steps.ToString(), "--threads", threads.ToString(), "--device", device, "--memory-format", memoryFormat], 3_600_000);
        var json = System.Text.Json.JsonDocument.Parse(r.Stdout.Trim().Split('\n').Last()).RootElement;
        double torch = json.GetProperty("median_ms").GetDouble();
        Console.WriteLine($"  pytorch: median {torch:F1} ms/step (min {json.GetProperty("min_ms").GetDouble():F1}), {s.Batch * 1000.0 / torch:F1} images/s, torch {json.GetProperty("torch").GetString()}, {json.GetProperty("threads").GetInt32()} threads, {Layout(json)}; {Machine.StealShare(cpuBefore, Machine.CpuTimes())} (whole process)");
        Console.WriteLine("           " + string.Join(", ", json.GetProperty("phases_ms").EnumerateObject().Select(p =>
            $"{p.Name} {p.Value.GetDouble():F1} ms ({100 * json.GetProperty("phases_share").GetProperty(p.Name).GetDouble():F1}%)")));
        Console.WriteLine($"  ratio ours/pytorch: {ours / torch:F2} (medians), {oursMin / json.GetProperty("min_ms").GetDouble():F2} (minima: less sensitive to other load)");
        return torch;
    }

    // the layout PyTorch was timed in, and the probe minima that chose it (--torch-memory-format auto)
    private static string Layout(System.Text.Json.JsonElement json)
    {
        var probes = json.GetProperty("probe_min_ms").EnumerateObject().Select(p => $"{p.Name} {p.Value.GetDouble():F1} ms").ToArray();
        return json.GetProperty("memory_format").GetString() + (probes.Length > 0 ? $" (probe minima: {string.Join(", ", probes)})" : "");
    }

    private static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

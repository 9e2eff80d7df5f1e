using System.Diagnostics;
using System.Globalization;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.Tests.Reference;

/// <summary>Loss parts of one step, as train.onnx outputs them.</summary>
public sealed record StepParts(double Loss, double Augmentation, double SemanticPositive, double Invariance, double Classifier, double Accuracy)
{
    public static readonly string[] Names = [ArtifactNames.Loss, LossAugmentation, LossSemanticPositive, LossInvariance, LossClassifier, ClassifierAccuracy];
    public double this[int i] => i switch { 0 => Loss, 1 => Augmentation, 2 => SemanticPositive, 3 => Invariance, 4 => Classifier, _ => Accuracy };
}

/// <summary>
/// Shared by the correctness test (TorchReferenceTests) and the step benchmark (tests/SemPPL.Benchmarks/Step):
/// writes an artifact set and a fixed batch, runs OUR step (StepGraphs, the trainer's graph order and
/// bindings) and writes the inputs the PyTorch reference (tests/reference/semppl_torch) reads; starts it.
/// </summary>
public static class ReferenceHarness
{
    /// <summary>The interpreter that runs the reference: /usr/bin/python3 (Debian's python3-torch), or SEMPPL_PYTHON
    /// where torch lives elsewhere (the GPU machine's PyTorch is in a virtual environment).</summary>
    public static readonly string Python = Environment.GetEnvironmentVariable("SEMPPL_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SemPPL.Ort.sln"))) return d.FullName;
        throw new InvalidOperationException($"SemPPL.Ort.sln not found above {AppContext.BaseDirectory}");
    }

    private static readonly Lazy<string?> TorchProbe = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} does not exist (install Debian's python3-torch)";
        try
        {
            var r = RunProcess(Python, ["-c", "import torch, numpy"], null, 60_000);
            return r.ExitCode == 0 ? null : $"{Python} cannot import torch (install Debian's python3-torch): {r.Stderr.Trim().Split('\n').LastOrDefault()}";
        }
        catch (Exception e) { return $"{Python} could not be started: {e.Message}"; }
    });

    /// <summary>Null when <see cref="Python"/> imports torch; otherwise why not.</summary>
    public static string? TorchUnavailableReason() => TorchProbe.Value;

    /// <summary>A fixed batch: large (and small) views ~ N(0, 1) and labels in [0, K), from <paramref name="seed"/>.</summary>
    public static (float[] Large, float[] Small, long[] Labels) MakeBatch(ArtifactShapes s, int seed)
    {
        var rng = new Random(seed);
        float Normal() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var large = new float[(long)s.LargeViews * s.Batch * s.Channels * s.LargeSize * s.LargeSize];
        for (int i = 0; i < large.Length; i++) large[i] = Normal();
        var small = new float[(long)s.SmallViews * s.Batch * s.Channels * s.SmallSize * s.SmallSize];
        for (int i = 0; i < small.Length; i++) small[i] = Normal();
        var labels = new long[s.BatchLabelled];
        for (int i = 0; i < labels.Length; i++) labels[i] = i % Math.Min(s.NumClasses, Math.Max(1, s.BatchLabelled - 1));
        return (large, small, labels);
    }

    /// <summary>The step constants the reference needs (tensor-file metadata "settings").</summary>
    public static Dictionary<string, string> Settings(SemPPLConfig c, ArtifactShapes s)
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return new()
        {
            ["large_views"] = s.LargeViews.ToString(), ["small_views"] = s.SmallViews.ToString(),
            ["batch_unlabelled"] = s.BatchUnlabelled.ToString(), ["batch_labelled"] = s.BatchLabelled.ToString(),
            ["temperature"] = F(c.Objective.Temperature), ["c"] = F(c.Objective.C), ["alpha"] = F(c.Objective.Alpha),
            ["lambda"] = F(c.Objective.Lambda), ["classifier_weight"] = F(c.Objective.ClassifierWeight),
            ["knn_k"] = s.KnnK.ToString(), ["num_classes"] = s.NumClasses.ToString(), ["queue_capacity"] = s.QueueCapacity.ToString(),
            ["optimizer"] = c.Optimizer.Name, ["momentum"] = F(c.Optimizer.Momentum), ["weight_decay"] = F(c.Optimizer.WeightDecay),
            ["trust_coefficient"] = F(c.Optimizer.TrustCoefficient),
            ["bn_momentum"] = F(c.Model.BnMomentum), ["bn_epsilon"] = F(c.Model.BnEpsilon),
        };
    }

    /// <summary>
    /// The inputs file of the reference: the batch, and per step the negatives and uniforms that
    /// <see cref="StepRandomness"/> draws for (seed, step), the learning rate and the EMA decay.
    /// </summary>
    public static void WriteInputs(string path, SemPPLConfig c, ArtifactShapes s, (float[] Large, float[] Small, long[] Labels) batch,
        double[] lrs, double[] taus)
    {
        int steps = lrs.Length;
        var rnd = new StepRandomness(c.Seed, s.LargeViews, s.Batch, s.Negatives, s.SemanticPositives);
        var neg = new List<long>();
        var uni = new List<float>();
        for (int k = 0; k < steps; k++)
        {
            rnd.Fill(k);
            neg.AddRange(rnd.Negatives);
            uni.AddRange(rnd.Uniforms);
        }
        var tensors = new List<(string, HostTensor)>
        {
            (ViewsLarge, HostTensor.Float([s.LargeViews, s.Batch, s.Channels, s.LargeSize, s.LargeSize], batch.Large)),
            (Labels, HostTensor.Int64([s.BatchLabelled], batch.Labels)),
            (Negatives, HostTensor.Int64([steps, s.LargeViews, s.Batch, s.Negatives], neg.ToArray())),
            (Uniforms, HostTensor.Float([steps, s.Batch, s.SemanticPositives], uni.ToArray())),
            ("lr", HostTensor.Float([steps], lrs.Select(v => (float)v).ToArray())),
            ("tau", HostTensor.Float([steps], taus.Select(v => (float)v).ToArray())),
        };
        if (s.SmallViews > 0)
            tensors.Add((ViewsSmall, HostTensor.Float([s.SmallViews, s.Batch, s.Channels, s.SmallSize, s.SmallSize], batch.Small)));
        TensorFile.Write(path, tensors, Settings(c, s));
    }

    public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr);

    public static ProcessResult RunProcess(string file, IEnumerable<string> args, IDictionary<string, string>? env, int timeoutMs)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs / 1000} s");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Runs the reference: python3 -m semppl_torch &lt;args&gt; with PYTHONPATH = tests/reference and OpenBLAS's kernels
    /// for this CPU (<see cref="OpenBlasCoreType"/>; docs/design.md, "Measuring against PyTorch"); threads via --threads.
    /// </summary>
    public static ProcessResult RunReference(IEnumerable<string> args, int timeoutMs)
    {
        var env = new Dictionary<string, string> { ["PYTHONPATH"] = Path.Combine(RepoRoot(), "tests", "reference") };
        if (OpenBlasCoreType.Current.Value is { } coreType) env[OpenBlasCoreType.Variable] = coreType;
        var r = RunProcess(Python, new[] { "-m", "semppl_torch" }.Concat(args), env, timeoutMs);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"the PyTorch reference failed (exit {r.ExitCode}):\n{r.Stderr}");
        return r;
    }
}

/// <summary>Our step on a fixed batch: StepGraphs with the trainer's initial weights, fed like SemPPLTrainer feeds it.</summary>
public sealed class OurStepRunner : IDisposable
{
    private readonly StepRandomness _rnd;

    public OurStepRunner(SemPPLConfig config, string artifactDir, Manifest manifest, (float[] Large, float[] Small, long[] Labels) batch,
        SessionSettings? settings = null, string device = "cpu", SemPPL.Distributed.ICommunicator? gradientAverage = null)
    {
        Factory = new SessionFactory(ExecutionDevice.Parse(device), settings);
        Graphs = new StepGraphs(Factory, artifactDir, manifest, gradientAverage);
        Graphs.LoadInitialWeights(artifactDir);
        var s = manifest.Shapes;
        batch.Large.AsSpan().CopyTo(Graphs.ViewsLarge.HostSpan<float>());
        if (Graphs.ViewsSmall is { } small) batch.Small.AsSpan().CopyTo(small.HostSpan<float>());
        batch.Labels.AsSpan().CopyTo(Graphs.Labels.HostSpan<long>());
        _rnd = new StepRandomness(config.Seed, s.LargeViews, s.Batch, s.Negatives, s.SemanticPositives);
    }

    public SessionFactory Factory { get; }
    public StepGraphs Graphs { get; }

    /// <summary>One step k with the given schedules (the same batch every step).</summary>
    public StepParts Step(long k, double lr, double tau, StepTimings? timings = null)
    {
        _rnd.Fill(k);
        _rnd.Negatives.AsSpan().CopyTo(Graphs.NegativeIndices.HostSpan<long>());
        _rnd.Uniforms.AsSpan().CopyTo(Graphs.UniformDraws.HostSpan<float>());
        Graphs.LearningRate.HostSpan<float>()[0] = (float)lr;
        if (Graphs.OptimizerStep is { } optimizerStep) optimizerStep.HostSpan<float>()[0] = k + 1;
        Graphs.EmaDecay.HostSpan<float>()[0] = (float)tau;
        Graphs.RunStep(timings);
        double R(HostRole role) => Graphs.Result(role);
        return new StepParts(R(HostRole.Loss), R(HostRole.LossAugmentation), R(HostRole.LossSemanticPositive), R(HostRole.LossInvariance),
            R(HostRole.LossClassifier), R(HostRole.ClassifierAccuracy));
    }

    public void Dispose()
    {
        Graphs.Dispose();
        Factory.Dispose();
    }
}

using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.Trainer.Training;

/// <summary>
/// The device side of one SemPPL step, and the one place that fixes the graph order (docs/method.md):
/// target -> queue push -> pseudo-labels and semantic positives -> train -> optimizer -> EMA.
///
/// All state (online parameters and BN statistics, target, optimizer slots, queue) lives in a
/// <see cref="PingPongState"/>: every graph reads the Current buffer of a state tensor and writes its
/// Next buffer, and one Flip per step swaps them (binding an output onto its own input is wrong in ORT).
/// Bindings are built once; a step uploads only the batch and the host-drawn random tensors.
/// Gradients are explicit device tensors between train and optimizer: the place a data-parallel
/// all-reduce would go (docs/design.md, scale-out).
/// </summary>
public sealed class StepGraphs : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly PingPongBinding _target, _queue, _pseudo, _train, _optimizer, _ema;

    public StepGraphs(SessionFactory factory, string artifactDir, Manifest manifest)
    {
        Manifest = manifest;
        var s = manifest.Shapes;
        State = Own(new PingPongState(factory));
        Staging = Own(new DeviceState(factory));
        Between = Own(new DeviceState(factory));

        GraphRunner Load(string file) => Own(new GraphRunner(factory, Path.Combine(artifactDir, file), Path.GetFileNameWithoutExtension(file)));
        var target = Load(TargetFile);
        var queue = Load(QueueFile);
        var pseudo = Load(PseudoLabelFile);
        var train = Load(TrainFile);
        var optimizer = Load(OptimizerFile);
        var ema = Load(EmaFile);

        // Host staging tensors: the only per-step uploads.
        ViewsLarge = Staging.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.ViewsLarge, DType.Float, s.LargeViews, s.Batch, s.Channels, s.LargeSize, s.LargeSize));
        ViewsSmall = s.SmallViews > 0 ? Staging.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.ViewsSmall, DType.Float, s.SmallViews, s.Batch, s.Channels, s.SmallSize, s.SmallSize)) : null;
        Labels = Staging.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.Labels, DType.Int64, s.BatchLabelled));
        NegativeIndices = Staging.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.Negatives, DType.Int64, s.LargeViews, s.Batch, s.Negatives));
        UniformDraws = Staging.Add(DeviceTensor.AllocateHost(factory, Uniforms, DType.Float, s.Batch, s.SemanticPositives));
        LearningRate = Staging.Add(DeviceTensor.AllocateHost(factory, "lr", DType.Float));
        OptimizerStep = Staging.Add(DeviceTensor.AllocateHost(factory, "step", DType.Float));
        EmaDecay = Staging.Add(DeviceTensor.AllocateHost(factory, "tau", DType.Float));

        // Small results read on the host every step (NaN check, metrics): bound to host memory.
        foreach (var name in new[] { Loss, LossAugmentation, LossSemanticPositive, LossInvariance, LossClassifier, ClassifierAccuracy })
            HostResults[name] = Staging.Add(DeviceTensor.AllocateHost(factory, name, DType.Float));
        PseudoLabels = Staging.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.PseudoLabels, DType.Int64, s.BatchUnlabelled));

        // Values passed between graphs stay on the device.
        foreach (var (name, info) in target.Outputs) Between.Allocate(name, info.Type, info.Shape);
        foreach (var name in new[] { Positives, PositiveMask, BatchLabels })
            Between.Allocate(name, pseudo.Outputs[name].Type, pseudo.Outputs[name].Shape);
        foreach (var (name, info) in train.Outputs.Where(o => o.Key.StartsWith(GradPrefix, StringComparison.Ordinal)))
            Between.Allocate(name, info.Type, info.Shape);

        // State: zero-filled here; the trainer loads initial weights or a checkpoint into Current.
        foreach (var p in manifest.Parameters) State.Add(p.Name, HostTensor.Filled(DType.Float, p.Shape, 0));
        foreach (var b in manifest.Buffers) State.Add(b.Name, HostTensor.Filled(DType.Float, b.Shape, b.InitialValue));
        foreach (var t in manifest.TargetTensors)
        {
            var shape = (manifest.Parameters.FirstOrDefault(p => p.Name == OnlinePrefix + t)?.Shape
                         ?? manifest.Buffers.First(b => b.Name == OnlinePrefix + t).Shape);
            State.Add(TargetPrefix + t, HostTensor.Filled(DType.Float, shape, 0));
        }
        foreach (var (name, info) in optimizer.Inputs.Where(i => i.Key.StartsWith("state.", StringComparison.Ordinal)))
            State.Add(name, HostTensor.Filled(info.Type, info.Shape, 0));
        foreach (var (name, info) in queue.Inputs.Where(i => i.Key.StartsWith("queue.", StringComparison.Ordinal)))
            State.Add(name, HostTensor.Filled(info.Type, info.Shape, 0));

        _target = Bind(target);
        _queue = Bind(queue);
        _pseudo = Bind(pseudo, readNextPrefix: "queue."); // after this step's push
        _train = Bind(train);
        _optimizer = Bind(optimizer);
        _ema = Bind(ema, readNextPrefix: OnlinePrefix);
    }

    public Manifest Manifest { get; }
    public PingPongState State { get; }
    /// <summary>Host-side tensors uploaded or read each step.</summary>
    public DeviceState Staging { get; }
    /// <summary>Device tensors passed from one graph to the next.</summary>
    public DeviceState Between { get; }
    public DeviceTensor ViewsLarge { get; }
    public DeviceTensor? ViewsSmall { get; }
    public DeviceTensor Labels { get; }
    public DeviceTensor NegativeIndices { get; }
    public DeviceTensor UniformDraws { get; }
    public DeviceTensor LearningRate { get; }
    public DeviceTensor OptimizerStep { get; }
    public DeviceTensor EmaDecay { get; }
    public DeviceTensor PseudoLabels { get; }
    public Dictionary<string, DeviceTensor> HostResults { get; } = [];

    /// <summary>Names of every state tensor (what a checkpoint holds).</summary>
    public IReadOnlyList<string> StateNames => State.Names;

    /// <summary>Runs one step's graphs in order, then swaps the state buffers.</summary>
    public void RunStep(StepTimings? timings = null)
    {
        Timed(_target, timings, 0);
        Timed(_queue, timings, 1);
        Timed(_pseudo, timings, 2);
        Timed(_train, timings, 3);
        Timed(_optimizer, timings, 4);
        Timed(_ema, timings, 5);
        State.Flip();
    }

    private static void Timed(PingPongBinding b, StepTimings? timings, int index)
    {
        if (timings is null) { b.Run(); return; }
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        b.Run();
        timings.Add(index, System.Diagnostics.Stopwatch.GetElapsedTime(t0));
    }

    private PingPongBinding Bind(GraphRunner runner, string? readNextPrefix = null) =>
        Own(ConventionBinder.Bind(runner, State, [Staging, Between], readNextPrefix));

    private T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}

/// <summary>Accumulated wall time per graph of the step, in graph order.</summary>
public sealed class StepTimings
{
    public static readonly string[] GraphNames = ["target", "queue", "pseudolabel", "train", "optimizer", "ema"];
    public TimeSpan[] Totals { get; } = new TimeSpan[GraphNames.Length];
    public int Steps { get; private set; }

    public void Add(int graph, TimeSpan t)
    {
        Totals[graph] += t;
        if (graph == GraphNames.Length - 1) Steps++;
    }
}

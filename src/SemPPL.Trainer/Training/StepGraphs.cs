using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Training;

/// <summary>
/// The device side of one SemPPL step, bound from the manifest alone: its graphs in the manifest's step order
/// (target -> queue push -> pseudo-labels and semantic positives -> train -> optimizer -> EMA, docs/method.md), each
/// input and output bound by its kind (<see cref="ContractBinder"/>).
///
/// All state (online parameters and BN statistics, target, optimizer slots, queue) lives in a
/// <see cref="PingPongState"/>: every graph reads the Current buffer of a state tensor and writes its
/// Next buffer, and one Flip per step swaps them (binding an output onto its own input is wrong in ORT).
/// Bindings are built once; a step uploads only the batch and the host-drawn random tensors.
/// Gradients are explicit device tensors between train and optimizer. Given a communicator, they are views into one flat
/// buffer (<see cref="FlatGradients"/>) that is averaged over the ranks in one all-reduce before the optimizer runs; without
/// one (a single process) they are separate tensors and nothing runs between the two graphs.
/// </summary>
public sealed class StepGraphs : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly List<PingPongBinding> _step = [];
    private readonly ICommunicator? _gradientAverage;
    private readonly FlatGradients? _gradients;
    private readonly int _optimizerIndex = -1;

    /// <param name="gradientAverage">Averages the gradients over the ranks between train and optimizer; null in a single process.</param>
    public StepGraphs(SessionFactory factory, string artifactDir, Manifest manifest, ICommunicator? gradientAverage = null)
    {
        Manifest = manifest;
        State = Own(new PingPongState(factory));
        Tensors = Own(new GraphTensors(factory));
        if (gradientAverage is not null)
        {
            if ((gradientAverage.Location == BufferLocation.CudaDevice) != factory.IsCuda)
                throw new ArgumentException($"the gradients live in {(factory.IsCuda ? "CUDA" : "host")} memory but the communicator works on {gradientAverage.Location} buffers");
            _gradientAverage = gradientAverage;
            _gradients = Own(new FlatGradients(factory, manifest, Tensors));
            _optimizerIndex = manifest.StepGraphs().ToList().FindIndex(g => g.Graph.Role == GraphRole.Optimizer);
        }
        // State: zero-filled here; LoadInitialWeights or a checkpoint fills Current.
        foreach (var s in manifest.State) State.Add(s.Name, HostTensor.Filled(s.ElementType, s.Shape, 0));
        foreach (var (key, entry) in manifest.StepGraphs())
        {
            var runner = Own(new GraphRunner(factory, Path.Combine(artifactDir, entry.File), key));
            Tensors.AllocateFor(entry.Contract);
            _step.Add(Own(ContractBinder.Bind(runner, entry.Contract, State, Tensors)));
        }
        GraphNames = manifest.Step;
        // Small float results read on the host every step (NaN check, metrics), with the names the set gives them.
        LossResults = manifest.StepGraphs().SelectMany(g => g.Graph.Outputs)
            .Where(o => o.Kind == IoKind.HostResult && o.ElementType == DType.Float && o.Shape.Length == 0)
            .Select(o => (o.Name, o.Role!.Value)).ToList();
    }

    public Manifest Manifest { get; }
    public PingPongState State { get; }
    /// <summary>Host tensors uploaded or read each step (by role) and device values passed between graphs.</summary>
    public GraphTensors Tensors { get; }
    public DeviceTensor ViewsLarge => Tensors[HostRole.ViewsLarge];
    public DeviceTensor? ViewsSmall => Tensors.Has(HostRole.ViewsSmall) ? Tensors[HostRole.ViewsSmall] : null;
    public DeviceTensor Labels => Tensors[HostRole.Labels];
    public DeviceTensor NegativeIndices => Tensors[HostRole.Negatives];
    public DeviceTensor UniformDraws => Tensors[HostRole.Uniforms];
    public DeviceTensor LearningRate => Tensors[HostRole.LearningRate];
    /// <summary>Absent when the optimizer does not read the step count (only AdamW does).</summary>
    public DeviceTensor? OptimizerStep => Tensors.Has(HostRole.OptimizerStep) ? Tensors[HostRole.OptimizerStep] : null;
    public DeviceTensor EmaDecay => Tensors[HostRole.EmaDecay];
    public DeviceTensor PseudoLabels => Tensors[HostRole.PseudoLabels];

    /// <summary>The step's scalar float host results (loss parts, classifier accuracy), loss parts first as the graphs list them.</summary>
    public IReadOnlyList<(string Name, HostRole Role)> LossResults { get; }

    /// <summary>Graph keys in step order (for timings).</summary>
    public IReadOnlyList<string> GraphNames { get; }

    /// <summary>The value of a scalar float host result after the last step.</summary>
    public double Result(HostRole role) => Tensors[role].HostSpan<float>()[0];

    /// <summary>The host-fed and passed inputs of the step's graphs as the last step saw them, by input name (device checks feed single graphs with them).</summary>
    public List<(string Name, HostTensor Tensor)> DownloadInputs() =>
        Manifest.StepGraphs().SelectMany(g => g.Graph.Inputs)
            .Where(i => i.Kind is IoKind.HostFed or IoKind.Passed).DistinctBy(i => i.Name)
            .Select(i => (i.Name, (i.Kind == IoKind.HostFed ? Tensors[i.Role!.Value] : Tensors.Passed(i.Tensor!)).Download())).ToList();

    /// <summary>Names of every state tensor (what a checkpoint holds).</summary>
    public IReadOnlyList<string> StateNames => State.Names;

    /// <summary>Runs one step's graphs in order, then swaps the state buffers.</summary>
    public void RunStep(StepTimings? timings = null)
    {
        for (int i = 0; i < _step.Count; i++)
        {
            if (i == _optimizerIndex) _gradientAverage!.AllReduce(_gradients!.Buffer, ReduceOperation.Average);
            if (timings is null) { _step[i].Run(); continue; }
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            _step[i].Run();
            timings.Add(i, System.Diagnostics.Stopwatch.GetElapsedTime(t0));
        }
        State.Flip();
    }

    /// <summary>Step-0 state: online weights from the initial-weights file, the target as an exact copy, the rest zeros.</summary>
    public void LoadInitialWeights(string artifactDir)
    {
        var initial = TensorFile.Read(Path.Combine(artifactDir, Manifest.InitialWeights)).Tensors.ToDictionary(t => t.Name, t => t.Tensor);
        HostTensor Initial(string name, string state) => initial.TryGetValue(name, out var t) ? t
            : throw new InvalidDataException($"{Manifest.InitialWeights} has no '{name}' for state '{state}'; regenerate the artifact set");
        var tensors = new List<(string, HostTensor)>();
        foreach (var s in Manifest.State)
        {
            if (s.Init == StateInit.InitialWeights) tensors.Add((s.Name, Initial(s.Name, s.Name)));
            else if (s.Init == StateInit.CopyOf) tensors.Add((s.Name, Initial(s.CopyOf!, s.Name)));
        }
        State.Restore(0, tensors);
    }

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
public sealed class StepTimings(IReadOnlyList<string> graphNames)
{
    public IReadOnlyList<string> GraphNames { get; } = graphNames;
    public TimeSpan[] Totals { get; } = new TimeSpan[graphNames.Count];
    public int Steps { get; private set; }

    public void Add(int graph, TimeSpan t)
    {
        Totals[graph] += t;
        if (graph == GraphNames.Count - 1) Steps++;
    }
}

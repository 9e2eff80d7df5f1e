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
/// Gradients are explicit device tensors between train and optimizer. Given a communicator (a data-parallel job), they are
/// views into one flat buffer (<see cref="FlatGradients"/>) that is averaged over the ranks in one all-reduce before the
/// optimizer runs, and the collectives the set declares (<see cref="StepCollectives"/>) run before the graphs that read
/// them; without one (a single process) they are separate tensors and nothing runs between the graphs.
/// </summary>
public sealed class StepGraphs : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly List<PingPongBinding> _step = [];
    private readonly ICommunicator? _gradientAverage;
    private readonly FlatGradients? _gradients;
    private readonly StepCollectives? _collectives;
    private readonly int _optimizerIndex = -1;

    /// <param name="gradientAverage">The data plane of a data-parallel job (averages the gradients between train and optimizer,
    /// runs the set's gathers and sums); null in a single process.</param>
    public StepGraphs(SessionFactory factory, string artifactDir, Manifest manifest, ICommunicator? gradientAverage = null)
    {
        if (gradientAverage is null && manifest.Shapes.WorldSize != 1)
            throw new InvalidDataException($"the artifact set is for {manifest.Shapes.WorldSize} ranks but this process runs alone; regenerate it");
        if (gradientAverage is not null && gradientAverage.WorldSize != manifest.Shapes.WorldSize)
            throw new InvalidDataException($"the artifact set is for {manifest.Shapes.WorldSize} rank(s) but the job has {gradientAverage.WorldSize}; regenerate it");
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
        if (gradientAverage is not null) _collectives = new StepCollectives(gradientAverage, manifest.StepGraphs().Select(g => g.Graph.Contract).ToList(), Tensors);
        // A job's collectives are timed as one more entry, so a profile shows their share of the step.
        GraphNames = gradientAverage is null ? manifest.Step : [.. manifest.Step, CollectivesTiming];
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

    /// <summary>The timing entry of a data-parallel step's collectives (gradient all-reduce, gathers, sums).</summary>
    public const string CollectivesTiming = "collectives";

    /// <summary>Graph keys in step order, then <see cref="CollectivesTiming"/> in a data-parallel job (for timings).</summary>
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
        var communication = TimeSpan.Zero;
        for (int i = 0; i < _step.Count; i++)
        {
            if (_gradientAverage is not null)
            {
                long c0 = System.Diagnostics.Stopwatch.GetTimestamp();
                _collectives!.Before(i);
                if (i == _optimizerIndex) _gradientAverage.AllReduce(_gradients!.Buffer, ReduceOperation.Average);
                communication += System.Diagnostics.Stopwatch.GetElapsedTime(c0);
            }
            if (timings is null) { _step[i].Run(); continue; }
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            _step[i].Run();
            timings.Add(i, System.Diagnostics.Stopwatch.GetElapsedTime(t0));
        }
        if (timings is not null && _gradientAverage is not null) timings.Add(_step.Count, communication);
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

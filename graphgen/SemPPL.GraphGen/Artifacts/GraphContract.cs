using System.Text.Json.Serialization;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>How the trainer binds one graph input or output (manifest.json, <c>kind</c>).</summary>
public enum IoKind
{
    /// <summary>Input: a state tensor (<see cref="GraphIo.Tensor"/>) as the step found it, or, with
    /// <see cref="GraphIo.ReadsUpdated"/>, as an earlier graph of the same step wrote it.</summary>
    StateRead,
    /// <summary>Output: the state tensor's value for the next step; <see cref="GraphIo.Replaces"/> is the input it replaces.</summary>
    StateWritten,
    /// <summary>Input uploaded from the host; <see cref="GraphIo.Role"/> says what it holds.</summary>
    HostFed,
    /// <summary>A device value passed from one graph to later ones: producer and readers share <see cref="GraphIo.Tensor"/>.</summary>
    Passed,
    /// <summary>Output read on the host; <see cref="GraphIo.Role"/> says what it holds.</summary>
    HostResult,
    /// <summary>Input (data-parallel sets): every rank's value of the passed value <see cref="GraphIo.Tensor"/>, in rank
    /// order along a new leading axis of size WorldSize (an all-gather run before the graph).</summary>
    Gathered,
    /// <summary>Input (data-parallel sets): the passed value <see cref="GraphIo.Tensor"/> summed over the ranks (an
    /// all-reduce run before the graph).</summary>
    Summed,
}

/// <summary>
/// What a host-fed input or host result means to the trainer. This vocabulary, not tensor names, is what the
/// trainer and graphgen agree on: an artifact set may name its tensors as it likes.
/// </summary>
public enum HostRole
{
    ViewsLarge, ViewsSmall, Labels, Negatives, Uniforms, LearningRate, OptimizerStep, EmaDecay,
    Loss, LossAugmentation, LossSemanticPositive, LossInvariance, LossClassifier, ClassifierAccuracy, PseudoLabels,
    Images, Features, Embedding, Projection, Logits,
    /// <summary>int64 [B] (data-parallel sets): the job's batch index of each of this rank's images (ArtifactShapes).</summary>
    GlobalIndex,
}

/// <summary>What a graph of the artifact set does.</summary>
public enum GraphRole { Target, Queue, PseudoLabel, Train, Optimizer, Ema, Eval }

/// <summary>One graph input or output: name, element type, shape (-1 = dynamic) and how the trainer binds it.</summary>
public sealed record GraphIo(string Name, string DType, long[] Shape)
{
    public IoKind Kind { get; init; }

    /// <summary>StateRead / StateWritten: the state tensor (a checkpoint name); Passed: the value linking producer and readers;
    /// Gathered / Summed: the passed value the collective reads.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Tensor { get; init; }

    /// <summary>StateRead: reads the value an earlier graph of the step wrote (the queue after this step's push).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ReadsUpdated { get; init; }

    /// <summary>StateWritten: the input of the same graph that this output replaces (its ping-pong pair), if the graph reads it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Replaces { get; init; }

    /// <summary>HostFed / HostResult: what the tensor holds.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public HostRole? Role { get; init; }

    [JsonIgnore]
    public DType ElementType => Enum.Parse<DType>(DType, ignoreCase: true);

    public override string ToString() => $"{Name} ({Kind}{(Tensor is null ? "" : " " + Tensor)}{(Role is null ? "" : " " + Role)})";
}

/// <summary>Every input and output of one graph with its <see cref="IoKind"/>: all the trainer needs to bind the graph.</summary>
public sealed record GraphContract(IReadOnlyList<GraphIo> Inputs, IReadOnlyList<GraphIo> Outputs)
{
    /// <summary>A state input and the output that replaces it (derived from <see cref="GraphIo.Replaces"/>).</summary>
    [JsonIgnore]
    public IReadOnlyList<StatePair> StatePairs =>
        Outputs.Where(o => o.Kind == IoKind.StateWritten && o.Replaces is not null).Select(o => new StatePair(o.Replaces!, o.Name)).ToList();

    public GraphIo Input(string name) => Inputs.FirstOrDefault(i => i.Name == name)
        ?? throw new KeyNotFoundException($"graph has no input '{name}'");

    public GraphIo Output(string name) => Outputs.FirstOrDefault(o => o.Name == name)
        ?? throw new KeyNotFoundException($"graph has no output '{name}'");

    /// <summary>The I/O of a role (host-fed input or host result), or null.</summary>
    public GraphIo? ForRole(HostRole role) => Inputs.Concat(Outputs).FirstOrDefault(io => io.Role == role);

    /// <summary>
    /// The contracts of graphs run in this order within one step, with every state read that follows a write of the
    /// same state marked <see cref="GraphIo.ReadsUpdated"/>. A state may be written by one graph of the step only
    /// (its two buffers swap once per step), and every passed value must come from an earlier graph.
    /// </summary>
    public static IReadOnlyList<GraphContract> InStepOrder(IReadOnlyList<GraphContract> graphs)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        var passed = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<GraphContract>();
        foreach (var c in graphs)
        {
            foreach (var i in c.Inputs.Where(i => (i.Kind is IoKind.Passed or IoKind.Gathered or IoKind.Summed) && !passed.Contains(i.Tensor!)))
                throw new InvalidOperationException($"input '{i.Name}' reads passed value '{i.Tensor}', which no earlier graph of the step outputs");
            foreach (var o in c.Outputs.Where(o => o.Kind == IoKind.Passed)) passed.Add(o.Tensor!);
            var inputs = c.Inputs.Select(i => i.Kind == IoKind.StateRead && written.Contains(i.Tensor!) ? i with { ReadsUpdated = true } : i).ToList();
            foreach (var o in c.Outputs.Where(o => o.Kind == IoKind.StateWritten))
                if (!written.Add(o.Tensor!))
                    throw new InvalidOperationException($"state '{o.Tensor}' is written by two graphs of one step");
            result.Add(c with { Inputs = inputs });
        }
        return result;
    }
}

/// <summary>
/// Collects the kind of every input and output while a graph is built; <see cref="Finish"/> checks that each got
/// exactly one, so a graph cannot reach the manifest with an input the trainer would not know how to bind.
/// </summary>
public sealed class ContractBuilder
{
    private readonly Dictionary<string, GraphIo> _io = new(StringComparer.Ordinal);

    /// <summary>An input that reads state tensor <paramref name="state"/> (default: the input's own name).</summary>
    public ContractBuilder StateRead(string input, string? state = null) => Add(input, IoKind.StateRead, state ?? input);

    /// <summary>An output that writes state tensor <paramref name="state"/>, replacing input <paramref name="replaces"/>.</summary>
    public ContractBuilder StateWritten(string output, string state, string? replaces) =>
        Add(output, IoKind.StateWritten, state, replaces: replaces);

    public ContractBuilder HostFed(string input, HostRole role) => Add(input, IoKind.HostFed, role: role);

    public ContractBuilder HostResult(string output, HostRole role) => Add(output, IoKind.HostResult, role: role);

    /// <summary>An input or output passed between graphs on the device, linked by <paramref name="tensor"/> (default: its name).</summary>
    public ContractBuilder Passed(string name, string? tensor = null) => Add(name, IoKind.Passed, tensor ?? name);

    /// <summary>An input holding every rank's value of passed value <paramref name="tensor"/> ([WorldSize, ...its shape]).</summary>
    public ContractBuilder Gathered(string input, string tensor) => Add(input, IoKind.Gathered, tensor);

    /// <summary>An input holding passed value <paramref name="tensor"/> summed over the ranks (its shape).</summary>
    public ContractBuilder Summed(string input, string tensor) => Add(input, IoKind.Summed, tensor);

    private ContractBuilder Add(string name, IoKind kind, string? tensor = null, string? replaces = null, HostRole? role = null)
    {
        var io = new GraphIo(name, "", []) { Kind = kind, Tensor = tensor, Replaces = replaces, Role = role };
        if (!_io.TryAdd(name, io)) throw new InvalidOperationException($"graph I/O '{name}' is described twice");
        return this;
    }

    /// <summary>The contract of <paramref name="g"/>, in its input and output order.</summary>
    public GraphContract Finish(GraphBuilder g)
    {
        GraphIo Describe(Value v, bool input)
        {
            if (!_io.TryGetValue(v.Name, out var io))
                throw new InvalidOperationException($"graph '{g.Name}': {(input ? "input" : "output")} '{v.Name}' has no kind in the graph's contract");
            bool isInput = io.Kind is IoKind.StateRead or IoKind.HostFed or IoKind.Gathered or IoKind.Summed || (io.Kind == IoKind.Passed && input);
            if (isInput != input)
                throw new InvalidOperationException($"graph '{g.Name}': '{v.Name}' is an {(input ? "input" : "output")} but described as {io.Kind}");
            return io with { DType = v.Type.ToString().ToLowerInvariant(), Shape = v.Shape };
        }
        var inputs = g.Inputs.Select(v => Describe(v, true)).ToList();
        var outputs = g.Outputs.Select(v => Describe(v, false)).ToList();
        var extra = _io.Keys.Except(inputs.Concat(outputs).Select(io => io.Name)).FirstOrDefault();
        if (extra is not null) throw new InvalidOperationException($"graph '{g.Name}': the contract describes '{extra}', which the graph does not have");
        return new GraphContract(inputs, outputs);
    }
}

using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Binds a graph by its contract (<see cref="GraphContract"/>, from manifest.json or from an in-memory graph), never by a
/// name: a state read binds the state's Current buffer (Next when an earlier graph of the step wrote it), a state write its
/// Next buffer, a passed value the device tensor of that value, a host-fed input or host result the host tensor of its role,
/// a gathered input the tensor the all-gather fills, a summed input the passed value the all-reduce sums in place.
/// </summary>
public static class ContractBinder
{
    public static PingPongBinding Bind(GraphRunner runner, GraphContract contract, PingPongState state, GraphTensors tensors)
    {
        CheckMatches(runner, contract);
        var b = PingPongBinding.For(runner, state);
        foreach (var io in contract.Inputs)
        {
            switch (io.Kind)
            {
                case IoKind.StateRead when io.ReadsUpdated: b.ReadNext(io.Name, io.Tensor!); break;
                case IoKind.StateRead: b.ReadCurrent(io.Name, io.Tensor!); break;
                case IoKind.HostFed: b.Input(io.Name, tensors[io.Role!.Value]); break;
                case IoKind.Passed: b.Input(io.Name, tensors.Passed(io.Tensor!)); break;
                case IoKind.Gathered: b.Input(io.Name, tensors.Gathered(io.Name)); break;
                // Summed in place: the all-reduce overwrites the passed value before its reader runs.
                case IoKind.Summed: b.Input(io.Name, tensors.Passed(io.Tensor!)); break;
                default: throw new InvalidDataException($"graph '{runner.Name}': input '{io.Name}' has the output kind {io.Kind}");
            }
        }
        foreach (var io in contract.Outputs)
        {
            switch (io.Kind)
            {
                case IoKind.StateWritten: b.WriteNext(io.Name, io.Tensor!); break;
                case IoKind.HostResult: b.Output(io.Name, tensors[io.Role!.Value]); break;
                case IoKind.Passed: b.Output(io.Name, tensors.Passed(io.Tensor!)); break;
                default: throw new InvalidDataException($"graph '{runner.Name}': output '{io.Name}' has the input kind {io.Kind}");
            }
        }
        return b.Build();
    }

    /// <summary>Every state tensor the contracts read or write (name, type, shape), each once, in order of first use.</summary>
    public static IReadOnlyList<(string Name, DType Type, long[] Shape)> StateTensors(IEnumerable<GraphContract> contracts) =>
        contracts.SelectMany(c => c.Inputs.Concat(c.Outputs))
            .Where(io => io.Kind is IoKind.StateRead or IoKind.StateWritten)
            .DistinctBy(io => io.Tensor)
            .Select(io => (io.Tensor!, io.ElementType, io.Shape))
            .ToList();

    /// <summary>The graph file and its manifest entry must list the same inputs and outputs.</summary>
    public static void CheckMatches(GraphRunner runner, GraphContract contract)
    {
        static string Diff(IEnumerable<string> graph, IEnumerable<string> manifest) =>
            string.Join(", ", graph.Except(manifest).Select(n => $"'{n}' only in the graph").Concat(manifest.Except(graph).Select(n => $"'{n}' only in its contract")));
        string inputs = Diff(runner.InputNames, contract.Inputs.Select(i => i.Name));
        string outputs = Diff(runner.OutputNames, contract.Outputs.Select(o => o.Name));
        if (inputs.Length > 0 || outputs.Length > 0)
            throw new InvalidDataException($"graph '{runner.Name}' and its contract disagree ({string.Join("; ", new[] { inputs, outputs }.Where(s => s.Length > 0))}); regenerate the artifact set");
    }
}

/// <summary>
/// The tensors a group of graphs shares besides their state: one host tensor per <see cref="HostRole"/> (filled or read
/// by the host every run) and one device tensor per value passed between graphs. Owns them.
/// </summary>
public sealed class GraphTensors : IDisposable
{
    private readonly SessionFactory _factory;
    private readonly Dictionary<HostRole, DeviceTensor> _host = [];
    private readonly DeviceState _passed;
    private readonly List<DeviceTensor> _owned = [];

    public GraphTensors(SessionFactory factory)
    {
        _factory = factory;
        _passed = new DeviceState(factory);
    }

    /// <summary>Supplies the tensor of a role (e.g. features uploaded to the device once); takes ownership.</summary>
    public DeviceTensor Provide(HostRole role, DeviceTensor tensor)
    {
        if (!_host.TryAdd(role, tensor)) throw new ArgumentException($"a tensor for {role} is already there");
        _owned.Add(tensor);
        return tensor;
    }

    /// <summary>Host tensors for the contract's host-fed inputs and host results that have none yet, and device tensors for the values it passes on.</summary>
    public void AllocateFor(GraphContract contract)
    {
        foreach (var io in contract.Inputs.Where(i => i.Kind == IoKind.HostFed).Concat(contract.Outputs.Where(o => o.Kind == IoKind.HostResult)))
        {
            var role = io.Role ?? throw new InvalidDataException($"'{io.Name}' is {io.Kind} but has no role");
            if (_host.TryGetValue(role, out var existing))
            {
                if (existing.Type != io.ElementType || !existing.Shape.SequenceEqual(io.Shape))
                    throw new InvalidDataException($"'{io.Name}' ({role}) is {DeviceTensor.Describe(io.ElementType, io.Shape)} but another graph has it as {existing.ShapeText}");
                continue;
            }
            Provide(role, DeviceTensor.AllocateHost(_factory, role.ToString(), io.ElementType, io.Shape));
        }
        foreach (var io in contract.Outputs.Where(o => o.Kind == IoKind.Passed))
        {
            if (_passed.TryGet(io.Tensor!, out var provided))
            {
                if (provided.Type != io.ElementType || !provided.Shape.SequenceEqual(io.Shape))
                    throw new InvalidDataException($"'{io.Name}' is {DeviceTensor.Describe(io.ElementType, io.Shape)} but the tensor provided for it is {provided.ShapeText}");
                continue;
            }
            _passed.Allocate(io.Tensor!, io.ElementType, io.Shape);
        }
        foreach (var io in contract.Inputs.Where(i => i.Kind == IoKind.Gathered))
            if (!_passed.Contains(GatheredKey(io.Name))) _passed.Allocate(GatheredKey(io.Name), io.ElementType, io.Shape);
    }

    /// <summary>The tensor a data-parallel all-gather fills for gathered input <paramref name="input"/> ([WorldSize, ...]).</summary>
    public DeviceTensor Gathered(string input) => _passed.TryGet(GatheredKey(input), out var t) ? t
        : throw new InvalidDataException($"gathered input '{input}' has no tensor");

    // Gathered tensors share the passed store under a key no passed value can have (names hold no '|').
    private static string GatheredKey(string input) => "gathered|" + input;

    /// <summary>Supplies the device tensor of a passed value before any graph allocates it (a view into a flat buffer); takes ownership of the tensor object.</summary>
    public DeviceTensor ProvidePassed(DeviceTensor tensor) => _passed.Add(tensor);

    public DeviceTensor this[HostRole role] => _host.TryGetValue(role, out var t) ? t
        : throw new KeyNotFoundException($"no tensor for {role}");

    public bool Has(HostRole role) => _host.ContainsKey(role);

    /// <summary>The device tensor of a passed value.</summary>
    public DeviceTensor Passed(string tensor) => _passed.TryGet(tensor, out var t) ? t
        : throw new InvalidDataException($"passed value '{tensor}' is read before any graph outputs it");

    /// <summary>Values passed between graphs, by value name (device checks).</summary>
    public List<(string Name, HostTensor Tensor)> DownloadPassed() => _passed.Download();

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
        _host.Clear();
        _passed.Dispose();
    }
}

using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>Element type and shape of a graph input or output (-1 = dynamic dimension).</summary>
public sealed record GraphValueInfo(string Name, DType Type, long[] Shape)
{
    public bool IsStatic => Shape.All(d => d >= 0);
    public override string ToString() => $"{Name}: {DeviceTensor.Describe(Type, Shape)}";

    public bool Accepts(DeviceTensor t) =>
        t.Type == Type && t.Shape.Length == Shape.Length && Shape.Zip(t.Shape).All(p => p.First < 0 || p.First == p.Second);
}

/// <summary>
/// One ONNX graph of the step, loaded once into an <see cref="InferenceSession"/> for the factory's device.
/// Create its <see cref="GraphBinding"/>s once (<see cref="Bind"/>), then call <see cref="Run"/> every step:
/// a run with a prebuilt binding allocates nothing in managed code and writes into the bound outputs.
/// </summary>
public sealed class GraphRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions;
    private readonly Dictionary<string, GraphValueInfo> _inputs;
    private readonly Dictionary<string, GraphValueInfo> _outputs;
    private bool _disposed;

    public GraphRunner(SessionFactory factory, byte[] model, string name)
        : this(factory, name, () => factory.CreateSession(model, name)) { }

    public GraphRunner(SessionFactory factory, string modelPath, string? name = null)
        : this(factory, name ?? Path.GetFileNameWithoutExtension(modelPath), () => factory.CreateSession(modelPath)) { }

    private GraphRunner(SessionFactory factory, string name, Func<InferenceSession> create)
    {
        Factory = factory;
        Name = name;
        try
        {
            _session = create();
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"graph '{name}' could not be loaded on {factory.Description}: {e.Message}", e);
        }
        _runOptions = new RunOptions();
        _inputs = Describe(_session.InputMetadata);
        _outputs = Describe(_session.OutputMetadata);
        InputNames = [.. _session.InputNames];
        OutputNames = [.. _session.OutputNames];
    }

    public SessionFactory Factory { get; }
    public string Name { get; }
    public InferenceSession Session => _session;
    public IReadOnlyList<string> InputNames { get; }
    public IReadOnlyList<string> OutputNames { get; }
    public IReadOnlyDictionary<string, GraphValueInfo> Inputs => _inputs;
    public IReadOnlyDictionary<string, GraphValueInfo> Outputs => _outputs;

    /// <summary>
    /// Binds every graph input to a tensor, and the given outputs to tensors. Outputs left out are allocated
    /// on the device from the output metadata (static shapes only) and owned by the binding. Checks names,
    /// element types and shapes, and that no output shares a buffer with an input (ONNX Runtime accepts that
    /// but computes wrong results: use a <see cref="PingPongBinding"/> for state updated in place).
    /// </summary>
    public GraphBinding Bind(IReadOnlyDictionary<string, DeviceTensor> inputs,
                             IReadOnlyDictionary<string, DeviceTensor>? outputs = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        outputs ??= new Dictionary<string, DeviceTensor>();
        foreach (var (name, t) in inputs)
        {
            if (!_inputs.TryGetValue(name, out var info))
                throw new ArgumentException($"graph '{Name}' has no input named '{name}' (inputs: {string.Join(", ", InputNames)})");
            if (!info.Accepts(t))
                throw new ArgumentException($"graph '{Name}': input '{name}' expects {DeviceTensor.Describe(info.Type, info.Shape)} but tensor '{t.Name}' is {t.ShapeText}");
        }
        var missing = InputNames.Where(n => !inputs.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"graph '{Name}': input{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => $"'{m}'"))} not bound");
        foreach (var (name, t) in outputs)
        {
            if (!_outputs.TryGetValue(name, out var info))
                throw new ArgumentException($"graph '{Name}' has no output named '{name}' (outputs: {string.Join(", ", OutputNames)})");
            if (!info.Accepts(t))
                throw new ArgumentException($"graph '{Name}': output '{name}' is {DeviceTensor.Describe(info.Type, info.Shape)} but tensor '{t.Name}' is {t.ShapeText}");
            foreach (var (inName, inT) in inputs)
                if (ReferenceEquals(inT.Value, t.Value))
                    throw new ArgumentException($"graph '{Name}': output '{name}' and input '{inName}' are bound to the same tensor '{t.Name}'; ONNX Runtime gives wrong results for that. Use a PingPongBinding (two buffers, alternated).");
        }
        var dup = outputs.GroupBy(kv => kv.Value.Value, ReferenceEqualityComparer.Instance).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new ArgumentException($"graph '{Name}': outputs {string.Join(", ", dup.Select(kv => $"'{kv.Key}'"))} are bound to the same tensor");

        var owned = new List<DeviceTensor>();
        var allOutputs = new Dictionary<string, DeviceTensor>(outputs, StringComparer.Ordinal);
        OrtIoBinding? io = null;
        try
        {
            foreach (var name in OutputNames)
            {
                if (allOutputs.ContainsKey(name)) continue;
                var info = _outputs[name];
                if (!info.IsStatic)
                    throw new ArgumentException($"graph '{Name}': output '{name}' has a dynamic shape {DeviceTensor.Describe(info.Type, info.Shape)}; bind a tensor to it");
                var t = DeviceTensor.Allocate(Factory, $"{Name}.{name}", info.Type, info.Shape);
                owned.Add(t);
                allOutputs[name] = t;
            }
            io = _session.CreateIoBinding();
            foreach (var name in InputNames) io.BindInput(name, inputs[name].Value);
            foreach (var name in OutputNames) io.BindOutput(name, allOutputs[name].Value);
            // On CUDA, ORT copies a host input to the device when it is BOUND, not when the graph runs: host staging
            // inputs must be bound again before every run, or each run sees the values they had at bind time.
            var rebind = Factory.IsCuda
                ? InputNames.Where(n => !inputs[n].IsOnDevice).Select(n => (n, inputs[n])).ToArray()
                : [];
            return new GraphBinding(this, io, new Dictionary<string, DeviceTensor>(inputs, StringComparer.Ordinal), allOutputs, owned, rebind);
        }
        catch
        {
            io?.Dispose();
            foreach (var t in owned) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the graph with a binding made by this runner. On the CPU no managed allocation; on CUDA the host inputs
    /// are bound again first (<see cref="GraphBinding.HostInputs"/>), which copies them to the device.
    /// </summary>
    public void Run(GraphBinding binding)
    {
        if (!ReferenceEquals(binding.Runner, this))
            throw new ArgumentException($"binding of graph '{binding.Runner.Name}' run on graph '{Name}'");
        binding.BindHostInputs();
        _session.RunWithBinding(_runOptions, binding.IoBinding);
    }

    private static Dictionary<string, GraphValueInfo> Describe(IReadOnlyDictionary<string, NodeMetadata> meta)
    {
        var d = new Dictionary<string, GraphValueInfo>(StringComparer.Ordinal);
        foreach (var (name, m) in meta)
        {
            if (!m.IsTensor) throw new NotSupportedException($"graph value '{name}' is not a tensor");
            d[name] = new GraphValueInfo(name, DeviceTensor.FromOrt(m.ElementDataType), m.Dimensions.Select(x => (long)x).ToArray());
        }
        return d;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _runOptions.Dispose();
        _session.Dispose();
    }
}

/// <summary>
/// A prebuilt <see cref="OrtIoBinding"/> of one graph: every input and output bound to a fixed tensor.
/// Dispose it before the runner and before the tensors it binds; it disposes the outputs it allocated.
/// </summary>
public sealed class GraphBinding : IDisposable
{
    private readonly List<DeviceTensor> _owned;
    private readonly (string Name, DeviceTensor Tensor)[] _hostInputs;

    internal GraphBinding(GraphRunner runner, OrtIoBinding io, IReadOnlyDictionary<string, DeviceTensor> inputs,
                          IReadOnlyDictionary<string, DeviceTensor> outputs, List<DeviceTensor> owned,
                          (string Name, DeviceTensor Tensor)[] hostInputs)
    {
        _hostInputs = hostInputs;
        Runner = runner;
        IoBinding = io;
        Inputs = inputs;
        Outputs = outputs;
        _owned = owned;
    }

    public GraphRunner Runner { get; }
    public OrtIoBinding IoBinding { get; }
    public IReadOnlyDictionary<string, DeviceTensor> Inputs { get; }
    public IReadOnlyDictionary<string, DeviceTensor> Outputs { get; }

    /// <summary>Inputs in host memory that are re-bound before every run: on CUDA, every host input; on the CPU, none
    /// (the binding reads the host buffer itself).</summary>
    public IReadOnlyList<(string Name, DeviceTensor Tensor)> HostInputs => _hostInputs;

    /// <summary>Binds the <see cref="HostInputs"/> again (copying them to the device); a loop over an array, so no
    /// enumerator allocation on the hot path.</summary>
    internal void BindHostInputs()
    {
        for (int i = 0; i < _hostInputs.Length; i++) IoBinding.BindInput(_hostInputs[i].Name, _hostInputs[i].Tensor.Value);
    }

    public DeviceTensor Output(string name) => Outputs.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"graph '{Runner.Name}' has no output named '{name}'");

    public void Run() => Runner.Run(this);

    public void Dispose()
    {
        IoBinding.Dispose();
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// State updated every step (parameters, momenta, BN running statistics, EMA target, the queue), held as
/// pairs of buffers A and B. On even steps A is <see cref="Current"/> and B is <see cref="Next"/>; on odd steps
/// the roles swap. A graph reads Current and writes Next (never the same buffer: ONNX Runtime gives wrong
/// results when an output aliases an input), and once every graph of the step has run the trainer calls
/// <see cref="Flip"/>. One state object is shared by all graphs of a step, so they agree on the parity.
/// Owns the buffers.
/// </summary>
public sealed class PingPongState : IDisposable
{
    private readonly SessionFactory _factory;
    private readonly Dictionary<string, (DeviceTensor A, DeviceTensor B)> _pairs = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public PingPongState(SessionFactory factory) => _factory = factory;

    /// <summary>Completed flips (steps).</summary>
    public long Step { get; private set; }

    /// <summary>0: A is current; 1: B is current.</summary>
    public int Parity => (int)(Step & 1);

    public IReadOnlyList<string> Names => _order;

    /// <summary>Adds a pair; A holds the initial value (current at step 0). Takes ownership of both.</summary>
    public void Add(string name, DeviceTensor a, DeviceTensor b)
    {
        if (a.Type != b.Type || !a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException($"ping-pong state '{name}': buffers differ ({a.ShapeText} vs {b.ShapeText})");
        if (ReferenceEquals(a, b))
            throw new ArgumentException($"ping-pong state '{name}': A and B must be different buffers");
        if (!_pairs.TryAdd(name, (a, b)))
            throw new ArgumentException($"ping-pong state already has '{name}'");
        _order.Add(name);
    }

    /// <summary>Allocates both buffers on the device and uploads the initial value into A.</summary>
    public void Add(string name, HostTensor initial)
    {
        var a = DeviceTensor.FromHost(_factory, $"{name}#A", initial);
        DeviceTensor b;
        try { b = DeviceTensor.Allocate(_factory, $"{name}#B", initial.Type, initial.Shape); }
        catch { a.Dispose(); throw; }
        Add(name, a, b);
    }

    public bool Contains(string name) => _pairs.ContainsKey(name);

    /// <summary>The buffer holding the latest value of the state.</summary>
    public DeviceTensor Current(string name) => Parity == 0 ? Pair(name).A : Pair(name).B;

    /// <summary>The buffer this step's graphs write the new value into.</summary>
    public DeviceTensor Next(string name) => Parity == 0 ? Pair(name).B : Pair(name).A;

    /// <summary>The buffer that is current at the given parity (for building both bindings once).</summary>
    public DeviceTensor At(string name, int parity) => parity == 0 ? Pair(name).A : Pair(name).B;

    /// <summary>Ends the step: Next becomes Current.</summary>
    public void Flip() => Step++;

    /// <summary>Sets the step counter (and so which buffer is <see cref="Current"/>).</summary>
    public void Reset(long step = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        Step = step;
    }

    public (DeviceTensor A, DeviceTensor B) Pair(string name) => _pairs.TryGetValue(name, out var p) ? p
        : throw new KeyNotFoundException($"ping-pong state has no '{name}'");

    /// <summary>Current values of the named states (all when null), for a checkpoint.</summary>
    public List<(string Name, HostTensor Tensor)> Download(IEnumerable<string>? names = null) =>
        (names ?? _order).Select(n => (n, Current(n).Download())).ToList();

    /// <summary>Resumes at <paramref name="step"/>: sets the counter, then uploads the values into the Current buffers.</summary>
    public void Restore(long step, IEnumerable<(string Name, HostTensor Tensor)> tensors)
    {
        Reset(step);
        foreach (var (n, t) in tensors) Current(n).Upload(t);
    }

    public void Dispose()
    {
        foreach (var (a, b) in _pairs.Values) { a.Dispose(); b.Dispose(); }
        _pairs.Clear();
        _order.Clear();
    }
}

/// <summary>
/// Two prebuilt <see cref="GraphBinding"/>s of one graph, one per parity of a <see cref="PingPongState"/>:
/// on even steps the state inputs read A and the state outputs write B, on odd steps B -&gt; A.
/// <see cref="Run"/> picks the binding for the state's current parity; it does not flip (the step does,
/// after all its graphs ran); <see cref="RunAndFlip"/> does both for a graph that is a whole step.
/// Other inputs and outputs are the same tensors at both parities (outputs left out are allocated once).
/// </summary>
public sealed class PingPongBinding : IDisposable
{
    private readonly GraphBinding[] _bindings;
    private readonly List<DeviceTensor> _owned;

    private PingPongBinding(PingPongState state, GraphBinding even, GraphBinding odd, List<DeviceTensor> owned)
    {
        State = state;
        _bindings = [even, odd];
        _owned = owned;
    }

    public PingPongState State { get; }
    public GraphRunner Runner => _bindings[0].Runner;

    /// <summary>The binding used at parity 0 (A -&gt; B) or 1 (B -&gt; A).</summary>
    public GraphBinding this[int parity] => _bindings[parity];

    /// <summary>Runs the binding for the state's current parity.</summary>
    public void Run() => _bindings[State.Parity].Runner.Run(_bindings[State.Parity]);

    public void RunAndFlip()
    {
        Run();
        State.Flip();
    }

    /// <summary>A non-state output (the same tensor at both parities).</summary>
    public DeviceTensor Output(string name) => _bindings[0].Output(name);

    public static Builder For(GraphRunner runner, PingPongState state) => new(runner, state);

    public void Dispose()
    {
        foreach (var b in _bindings) b.Dispose();
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }

    public sealed class Builder(GraphRunner runner, PingPongState state)
    {
        private readonly List<(string Input, string State, bool Next)> _reads = [];
        private readonly List<(string Output, string State)> _writes = [];
        private readonly Dictionary<string, DeviceTensor> _inputs = new(StringComparer.Ordinal);
        private readonly Dictionary<string, DeviceTensor> _outputs = new(StringComparer.Ordinal);

        /// <summary>Graph input reads the current value of a state.</summary>
        public Builder ReadCurrent(string input, string stateName) { Check(stateName); _reads.Add((input, stateName, false)); return this; }

        /// <summary>Graph input reads this step's new value of a state (written by an earlier graph of the step).</summary>
        public Builder ReadNext(string input, string stateName) { Check(stateName); _reads.Add((input, stateName, true)); return this; }

        /// <summary>Graph output writes the new value of a state.</summary>
        public Builder WriteNext(string output, string stateName) { Check(stateName); _writes.Add((output, stateName)); return this; }

        /// <summary>A graph input bound to the same tensor at both parities.</summary>
        public Builder Input(string input, DeviceTensor tensor) { _inputs.Add(input, tensor); return this; }

        /// <summary>A graph output bound to the same tensor at both parities.</summary>
        public Builder Output(string output, DeviceTensor tensor) { _outputs.Add(output, tensor); return this; }

        private void Check(string stateName)
        {
            if (!state.Contains(stateName)) throw new KeyNotFoundException($"graph '{runner.Name}': ping-pong state has no '{stateName}'");
        }

        public PingPongBinding Build()
        {
            // Outputs not bound anywhere are allocated once and shared by both bindings.
            var owned = new List<DeviceTensor>();
            var shared = new Dictionary<string, DeviceTensor>(_outputs, StringComparer.Ordinal);
            GraphBinding? even = null;
            try
            {
                foreach (var name in runner.OutputNames)
                {
                    if (shared.ContainsKey(name) || _writes.Any(w => w.Output == name)) continue;
                    var info = runner.Outputs[name];
                    if (!info.IsStatic)
                        throw new ArgumentException($"graph '{runner.Name}': output '{name}' has a dynamic shape {DeviceTensor.Describe(info.Type, info.Shape)}; bind a tensor to it");
                    var t = DeviceTensor.Allocate(runner.Factory, $"{runner.Name}.{name}", info.Type, info.Shape);
                    owned.Add(t);
                    shared[name] = t;
                }
                even = runner.Bind(InputsAt(0), OutputsAt(0, shared));
                var odd = runner.Bind(InputsAt(1), OutputsAt(1, shared));
                return new PingPongBinding(state, even, odd, owned);
            }
            catch
            {
                even?.Dispose();
                foreach (var t in owned) t.Dispose();
                throw;
            }
        }

        private Dictionary<string, DeviceTensor> InputsAt(int parity)
        {
            var d = new Dictionary<string, DeviceTensor>(_inputs, StringComparer.Ordinal);
            foreach (var (input, s, next) in _reads)
                if (!d.TryAdd(input, state.At(s, next ? 1 - parity : parity)))
                    throw new ArgumentException($"graph '{runner.Name}': input '{input}' is bound twice");
            return d;
        }

        private Dictionary<string, DeviceTensor> OutputsAt(int parity, Dictionary<string, DeviceTensor> shared)
        {
            var d = new Dictionary<string, DeviceTensor>(shared, StringComparer.Ordinal);
            foreach (var (output, s) in _writes)
                if (!d.TryAdd(output, state.At(s, 1 - parity)))
                    throw new ArgumentException($"graph '{runner.Name}': output '{output}' is bound twice");
            return d;
        }
    }
}

using SemPPL.Config;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>How BatchNorm behaves in a forward.</summary>
public enum ModelMode
{
    /// <summary>Batch statistics; running statistics are updated (and chained across forwards).</summary>
    Training,
    /// <summary>Running statistics (evaluation / export graphs).</summary>
    Inference,
}

/// <summary>
/// The state shared by the forwards that build one network copy inside one graph: the graph, a name
/// prefix ("online." / "target."), the BatchNorm mode and constants, the parameters and buffers
/// requested so far, and (Training mode) the CURRENT value of every running statistic.
/// <para>
/// <see cref="Parameter"/>: the first request for a local name creates the graph input prefix + scope + name
/// and records its <see cref="ParameterSpec"/>; later requests (e.g. the second view's forward) return the
/// same <see cref="Value"/>, so autodiff accumulates the gradients of all views into one.
/// </para>
/// <para>
/// <see cref="Buffer"/> / <see cref="BatchNorm"/>: running statistics are graph inputs too; in Training
/// mode each BatchNorm consumes the current running statistics and replaces them with the updated ones,
/// so several forwards (views 1..V) chain their updates; <see cref="UpdatedBuffers"/> holds the final values.
/// Inside <see cref="InBatchNormGroups{T}"/> (ghost BatchNorm) the groups' updates are averaged instead of chained.
/// </para>
/// </summary>
public sealed class ModelContext
{
    private readonly List<ParameterSpec> _parameters = [];
    private readonly Dictionary<string, (ParameterSpec Spec, Value Value)> _parametersByName = [];
    private readonly List<BufferSpec> _buffers = [];
    private readonly Dictionary<string, (BufferSpec Spec, Value Input)> _buffersByName = [];
    private readonly Dictionary<string, Value> _current = [];
    private readonly Dictionary<string, Value> _updated = [];
    private readonly List<string> _updatedOrder = [];

    public ModelContext(GraphBuilder graph, string prefix, ModelMode mode, float bnMomentum = 0.9f, float bnEpsilon = 1e-5f)
    {
        Graph = graph;
        Prefix = prefix;
        Mode = mode;
        BnMomentum = bnMomentum;
        BnEpsilon = bnEpsilon;
    }

    /// <summary>A context with the BatchNorm constants of a model config.</summary>
    public static ModelContext For(GraphBuilder graph, string prefix, ModelMode mode, ModelConfig cfg) =>
        new(graph, prefix, mode, (float)cfg.BnMomentum, (float)cfg.BnEpsilon);

    public GraphBuilder Graph { get; }
    /// <summary>Prefix of every graph input this context creates ("online.", "target.", or "").</summary>
    public string Prefix { get; }
    public ModelMode Mode { get; }
    /// <summary>Running-statistics decay: new = momentum * running + (1 - momentum) * batch.</summary>
    public float BnMomentum { get; }
    public float BnEpsilon { get; }

    /// <summary>Current local name scope ("encoder.layer1.0."); set with <see cref="InScope{T}"/>.</summary>
    public string Scope { get; private set; } = "";

    /// <summary>Parameters in order of first request (deterministic for a given build).</summary>
    public IReadOnlyList<ParameterSpec> Parameters => _parameters;
    /// <summary>Running statistics in order of first request.</summary>
    public IReadOnlyList<BufferSpec> Buffers => _buffers;

    /// <summary>Buffer local name -> its final (updated) value; Training mode only (empty in Inference mode).</summary>
    public IReadOnlyDictionary<string, Value> UpdatedBuffers => _updated;

    /// <summary>Buffer local names in the order they were first updated (for deterministic graph outputs).</summary>
    public IReadOnlyList<string> UpdatedBufferNames => _updatedOrder;

    /// <summary>The graph name of a local parameter or buffer name.</summary>
    public string GraphName(string localName) => Prefix + localName;

    /// <summary>The graph input of a parameter already requested.</summary>
    public Value ParameterValue(string localName) =>
        _parametersByName.TryGetValue(localName, out var p) ? p.Value
            : throw new KeyNotFoundException($"no parameter '{localName}' in context '{Prefix}'");

    /// <summary>The graph input (initial value) of a buffer already requested.</summary>
    public Value BufferInput(string localName) =>
        _buffersByName.TryGetValue(localName, out var b) ? b.Input
            : throw new KeyNotFoundException($"no buffer '{localName}' in context '{Prefix}'");

    /// <summary>Runs <paramref name="build"/> with a local name scope (also used for node names).</summary>
    public T InScope<T>(string scope, Func<T> build)
    {
        string saved = Scope;
        Scope = saved + scope;
        // Node names carry the prefix too, so two copies (online/target) in one graph stay readable.
        try { return Graph.InScope(saved.Length == 0 ? Prefix + scope : scope, build); }
        finally { Scope = saved; }
    }

    /// <summary>
    /// The parameter named Scope + <paramref name="localName"/>: created as a float graph input on first request,
    /// the same Value afterwards (shape and kind must agree).
    /// </summary>
    public Value Parameter(string localName, long[] shape, ParameterKind kind, long fanIn = 0, bool zeroInit = false, float[]? initialValue = null)
    {
        string name = Scope + localName;
        if (_parametersByName.TryGetValue(name, out var existing))
        {
            if (!existing.Spec.Shape.SequenceEqual(shape) || existing.Spec.Kind != kind)
                throw new ArgumentException($"parameter '{name}' requested as {kind} {Shapes.Str(shape)} but exists as {existing.Spec.Kind} {Shapes.Str(existing.Spec.Shape)}");
            return existing.Value;
        }
        if (shape.Any(d => d <= 0)) throw new ArgumentException($"parameter '{name}' has a non-positive dimension {Shapes.Str(shape)}");
        var spec = new ParameterSpec(name, (long[])shape.Clone(), kind) { FanIn = fanIn, ZeroInit = zeroInit, InitialValue = initialValue };
        var v = Graph.Input(Prefix + name, DType.Float, shape);
        _parameters.Add(spec);
        _parametersByName[name] = (spec, v);
        return v;
    }

    /// <summary>The CURRENT value of buffer Scope + <paramref name="localName"/> (its graph input until updated).</summary>
    public Value Buffer(string localName, long[] shape, float initialValue, float[]? initialData = null)
    {
        string name = Scope + localName;
        if (_buffersByName.TryGetValue(name, out var existing))
        {
            if (!existing.Spec.Shape.SequenceEqual(shape))
                throw new ArgumentException($"buffer '{name}' requested as {Shapes.Str(shape)} but exists as {Shapes.Str(existing.Spec.Shape)}");
            return _current[name];
        }
        var spec = new BufferSpec(name, (long[])shape.Clone(), initialValue) { InitialData = initialData };
        var v = Graph.Input(Prefix + name, DType.Float, shape);
        _buffers.Add(spec);
        _buffersByName[name] = (spec, v);
        _current[name] = v;
        return v;
    }

    /// <summary>Replaces the current value of buffer Scope + <paramref name="localName"/> (Training mode).</summary>
    public void UpdateBuffer(string localName, Value updated)
    {
        string name = Scope + localName;
        if (!_buffersByName.TryGetValue(name, out var b)) throw new KeyNotFoundException($"no buffer '{name}' to update");
        if (!updated.Shape.SequenceEqual(b.Spec.Shape)) throw ShapeException.For("UpdateBuffer", $"'{name}' must keep shape {Shapes.Str(b.Spec.Shape)}", updated);
        if (_group is { } group)
        {
            group.Updates[group.Current][name] = updated;
            if (!group.Order.Contains(name)) group.Order.Add(name);
            _current[name] = updated;
            return;
        }
        Commit(name, updated);
    }

    private void Commit(string name, Value updated)
    {
        if (_updated.TryAdd(name, updated)) _updatedOrder.Add(name);
        else _updated[name] = updated;
        _current[name] = updated;
    }

    private GroupScope? _group;

    /// <summary>The running statistics' values where a group scope began, and each group's updates.</summary>
    private sealed class GroupScope(Dictionary<string, Value> start, int groups)
    {
        public Dictionary<string, Value> Start { get; } = start;
        public Dictionary<string, Value>[] Updates { get; } = Enumerable.Range(0, groups).Select(_ => new Dictionary<string, Value>()).ToArray();
        public List<string> Order { get; } = [];
        public int Current { get; set; }
    }

    /// <summary>
    /// Ghost BatchNorm: runs <paramref name="build"/> once per group (the forward of one group of the batch, so every
    /// BatchNorm inside uses that group's batch statistics). Each group's running-statistic updates start from the values
    /// the statistics had when the scope began, and at its end every updated statistic becomes the mean of the groups'
    /// updated values: m r + (1 - m) mean_j(batch statistic of group j). Later forwards chain from that mean as usual.
    /// </summary>
    public IReadOnlyList<T> InBatchNormGroups<T>(int groups, Func<int, T> build)
    {
        if (groups < 1) throw new ArgumentOutOfRangeException(nameof(groups), groups, "at least one group");
        if (_group is not null) throw new InvalidOperationException("BatchNorm group scopes do not nest");
        var scope = new GroupScope(new Dictionary<string, Value>(_current), groups);
        _group = scope;
        var results = new List<T>(groups);
        try
        {
            for (int j = 0; j < groups; j++)
            {
                scope.Current = j;
                // Every group starts from the scope's starting values (a buffer first requested inside the scope starts at its input).
                foreach (var name in _current.Keys.ToList())
                    _current[name] = scope.Start.TryGetValue(name, out var v) ? v : _buffersByName[name].Input;
                results.Add(build(j));
            }
        }
        finally { _group = null; }
        foreach (var name in scope.Order)
        {
            var values = scope.Updates.Select((u, j) => u.TryGetValue(name, out var v) ? v
                : throw new InvalidOperationException($"buffer '{name}' was updated by some BatchNorm groups but not by group {j}")).ToList();
            var sum = values.Skip(1).Aggregate(values[0], Graph.Add);
            Commit(name, Graph.Mul(sum, 1f / groups));
        }
        return results;
    }

    /// <summary>
    /// BatchNorm over axis 1 with parameters {name}.weight / {name}.bias and buffers {name}.running_mean /
    /// {name}.running_var (torch names). Training: batch statistics, running stats chained; Inference: running stats.
    /// </summary>
    public Value BatchNorm(Value x, string name, bool zeroInitScale = false)
    {
        long c = x.Shape[1];
        var scale = Parameter(name + ".weight", [c], ParameterKind.BnScale, zeroInit: zeroInitScale);
        var bias = Parameter(name + ".bias", [c], ParameterKind.BnBias);
        var mean = Buffer(name + ".running_mean", [c], 0f);
        var variance = Buffer(name + ".running_var", [c], 1f);
        if (Mode == ModelMode.Inference)
            return Graph.InScope(name + ".", () => Layers.BatchNorm.Inference(Graph, x, scale, bias, mean, variance, BnEpsilon));
        var r = Graph.InScope(name + ".", () => Layers.BatchNorm.Training(Graph, x, scale, bias, mean, variance, BnMomentum, BnEpsilon));
        UpdateBuffer(name + ".running_mean", r.NewRunningMean);
        UpdateBuffer(name + ".running_var", r.NewRunningVar);
        return r.Y;
    }

    /// <summary>2-D convolution without bias, weight {name}.weight [out, in/groups, k, k], symmetric padding.</summary>
    public Value Conv2d(Value x, long outChannels, long kernel, long stride, long padding, string name, long groups = 1)
    {
        long inChannels = x.Shape[1];
        if (inChannels % groups != 0) throw ShapeException.For("Conv2d", $"{inChannels} input channels not divisible by {groups} groups", x);
        var w = Parameter(name + ".weight", [outChannels, inChannels / groups, kernel, kernel], ParameterKind.ConvWeight);
        return Graph.InScope(name + ".", () => Graph.Conv(x, w, null, [stride, stride], [padding, padding, padding, padding], null, groups));
    }

    /// <summary>Linear layer y = x W^T (+ b) via Gemm(transB), weight {name}.weight [out, in], bias {name}.bias [out].</summary>
    public Value Linear(Value x, long outFeatures, string name, bool bias = true)
    {
        if (x.Rank != 2) throw ShapeException.For("Linear", "input must be [B, features]", x);
        long inFeatures = x.Shape[1];
        var w = Parameter(name + ".weight", [outFeatures, inFeatures], ParameterKind.LinearWeight);
        var b = bias ? Parameter(name + ".bias", [outFeatures], ParameterKind.Bias, fanIn: inFeatures) : null;
        return Graph.InScope(name + ".", () => Graph.Gemm(x, w, b, transB: true));
    }
}

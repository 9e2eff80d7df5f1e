using Onnx;

namespace SemPPL.GraphGen.Onnx;

/// <summary>
/// Builds one ONNX graph (opset 21, IR 10 by default) with typed values whose shapes are inferred
/// as nodes are added, so a shape error surfaces at build time naming the op and the shapes.
/// Op methods live in the partial files GraphBuilder.*.cs, one per op family.
/// </summary>
public sealed partial class GraphBuilder
{
    public const int DefaultOpset = 21;
    public const long DefaultIrVersion = 10;

    private readonly List<Node> _nodes = [];
    private readonly List<Value> _inputs = [];
    private readonly List<Value> _outputs = [];
    private readonly List<(Value Value, HostTensor Data)> _initializers = [];
    private readonly Dictionary<string, Value> _constantsByContent = [];
    private readonly HashSet<string> _names = [];
    private readonly Dictionary<string, int> _counters = [];

    public GraphBuilder(string name, int opset = DefaultOpset)
    {
        Name = name;
        Opset = opset;
    }

    public string Name { get; }
    public int Opset { get; }
    public string DocString { get; set; } = "";
    public IReadOnlyList<Node> Nodes => _nodes;
    public IReadOnlyList<Value> Inputs => _inputs;
    public IReadOnlyList<Value> Outputs => _outputs;
    public IReadOnlyList<(Value Value, HostTensor Data)> Initializers => _initializers;
    /// <summary>Metadata written into the model (e.g. producer details, config hash).</summary>
    public Dictionary<string, string> Metadata { get; } = [];

    /// <summary>Prefix applied to generated names (models set it per block: "layer1.0.").</summary>
    public string Scope { get; set; } = "";

    // ---------------------------------------------------------------- names

    /// <summary>A fresh, unique, deterministic name built from a hint.</summary>
    public string FreshName(string hint)
    {
        string baseName = hint;
        if (_names.Add(baseName)) return baseName;
        _counters.TryGetValue(baseName, out int k);
        string candidate;
        do { k++; candidate = $"{baseName}_{k}"; } while (_names.Contains(candidate));
        _counters[baseName] = k;
        _names.Add(candidate);
        return candidate;
    }

    private void Claim(string name)
    {
        if (!_names.Add(name))
            throw new ArgumentException($"graph '{Name}' already has a value named '{name}'");
    }

    public bool HasName(string name) => _names.Contains(name);

    // ---------------------------------------------------------------- inputs, initializers, outputs

    public Value Input(string name, DType type, params long[] shape)
    {
        Claim(name);
        var v = new Value(this, name, type, shape, null);
        _inputs.Add(v);
        return v;
    }

    /// <summary>A named initializer (weights stored in the file).</summary>
    public Value Initializer(string name, HostTensor data)
    {
        Claim(name);
        return AddInitializer(name, data);
    }

    private Value AddInitializer(string claimedName, HostTensor data)
    {
        string name = claimedName;
        var v = new Value(this, name, data.Type, data.Shape, null);
        _initializers.Add((v, data));
        return v;
    }

    /// <summary>An anonymous constant, deduplicated by content.</summary>
    public Value Constant(HostTensor data, string hint = "const")
    {
        string key = data.ContentKey();
        if (_constantsByContent.TryGetValue(key, out var existing)) return existing;
        var v = AddInitializer(FreshName(hint), data);
        _constantsByContent[key] = v;
        return v;
    }

    /// <summary>The data of an initializer value (constant shape/axes inputs), or null for computed values and graph inputs.</summary>
    public HostTensor? TryGetConstant(Value v)
    {
        foreach (var (iv, data) in _initializers)
            if (iv == v) return data;
        return null;
    }

    /// <summary>Constant int64 vector input i of a node (axes, shapes, pads ...), or null when omitted.</summary>
    public long[]? ConstantInts(Node node, int i)
    {
        var v = node.OptionalInput(i);
        if (v is null) return null;
        var t = TryGetConstant(v) ?? throw new NotSupportedException($"{node}: input {i} ('{v.Name}') must be a constant initializer");
        return t.Type == DType.Int64 ? t.Longs : t.Ints.Select(x => (long)x).ToArray();
    }

    public Value Scalar(float v) => Constant(HostTensor.Scalar(v), "scalar");
    public Value Scalar(double v, DType type) => Constant(HostTensor.Filled(type, [], v), "scalar");
    public Value Int64s(params long[] v) => Constant(HostTensor.Vector(v), "ints");
    public Value ScalarI64(long v) => Constant(HostTensor.Int64([], [v]), "int");

    /// <summary>Marks a value as a graph output, renaming it (through Identity when needed).</summary>
    public Value Output(Value v, string? name = null)
    {
        if (name is not null && name != v.Name)
        {
            if (v.Producer is not null && !_outputs.Contains(v) && !_names.Contains(name))
            {
                _names.Remove(v.Name);
                Claim(name);
                v.Name = name;
            }
            else
            {
                v = Identity(v, name);
            }
        }
        if (_outputs.Contains(v)) throw new ArgumentException($"'{v.Name}' is already an output of graph '{Name}'");
        _outputs.Add(v);
        return v;
    }

    // ---------------------------------------------------------------- nodes

    /// <summary>Adds a node whose output types and shapes the caller has inferred.</summary>
    public Value[] AddNode(string opType, Value?[] inputs, (DType Type, long[] Shape)[] outputs,
        Dictionary<string, Attr>? attributes = null, string? outputHint = null, string domain = "")
    {
        foreach (var i in inputs)
            if (i is not null && i.Graph != this)
                throw new ArgumentException($"{opType}: input '{i.Name}' belongs to graph '{i.Graph.Name}', not '{Name}'");
        var node = new Node(FreshName(Scope + opType), opType, inputs, attributes ?? []) { Domain = domain, Origin = _origin };
        string hint = Scope + (outputHint ?? opType.ToLowerInvariant());
        node.Outputs = outputs.Select((o, k) => new Value(this, FreshName(outputs.Length == 1 ? hint : $"{hint}.{k}"), o.Type, o.Shape, node)).ToArray();
        _nodes.Add(node);
        return node.Outputs;
    }

    public Value AddNode1(string opType, Value?[] inputs, DType type, long[] shape, Dictionary<string, Attr>? attributes = null, string? outputHint = null)
        => AddNode(opType, inputs, [(type, shape)], attributes, outputHint)[0];

    private string? _origin;

    /// <summary>Runs <paramref name="build"/> with every node it adds marked as coming from <paramref name="origin"/> (<see cref="Node.Origin"/>).</summary>
    public T WithOrigin<T>(string origin, Func<T> build)
    {
        var outer = _origin;
        _origin = origin;
        try { return build(); }
        finally { _origin = outer; }
    }

    /// <summary>Runs <paramref name="build"/> with a name scope prefix.</summary>
    public T InScope<T>(string scope, Func<T> build)
    {
        string saved = Scope;
        Scope = saved + scope;
        try { return build(); }
        finally { Scope = saved; }
    }

    // ---------------------------------------------------------------- serialisation

    public ModelProto ToModel(string producer = "SemPPL.Ort graphgen", string producerVersion = Artifacts.ArtifactSetWriter.ToolVersion)
    {
        var g = new GraphProto { Name = Name, DocString = DocString };
        foreach (var (v, data) in _initializers)
            g.Initializer.Add(data.ToProto(v.Name));
        foreach (var v in _inputs) g.Input.Add(ValueInfo(v));
        foreach (var v in _outputs) g.Output.Add(ValueInfo(v));
        foreach (var n in _nodes)
        {
            var p = new NodeProto { Name = n.Name, OpType = n.OpType, Domain = n.Domain };
            p.Input.AddRange(TrimOptional(n.Inputs).Select(i => i?.Name ?? ""));
            p.Output.AddRange(n.Outputs.Select(o => o.Name));
            foreach (var (k, a) in n.Attributes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                p.Attribute.Add(a.ToProto(k));
            g.Node.Add(p);
        }
        foreach (var v in ConvolvedIntermediates()) g.ValueInfo.Add(ValueInfo(v));
        var m = new ModelProto
        {
            IrVersion = DefaultIrVersion,
            ProducerName = producer,
            ProducerVersion = producerVersion,
            Graph = g,
        };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var domain in _nodes.Select(n => n.Domain).Where(d => d.Length > 0).Distinct().Order(StringComparer.Ordinal))
            m.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = 1 }); // ORT's contrib domains are all at version 1
        foreach (var (k, v) in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            m.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return m;
    }

    /// <summary>The static data inputs of Conv and ConvTranspose nodes that a node computes (graph inputs and outputs
    /// carry their shapes already, and ONNX keeps value_info for the others): the artifact states them so that a runtime
    /// lowering can choose a form per image size (WinogradConvLowering), which it cannot read from the weight alone.</summary>
    private IEnumerable<Value> ConvolvedIntermediates() =>
        _nodes.Where(n => n.OpType is "Conv" or "ConvTranspose" && n.Domain.Length == 0)
              .Select(n => n.Input(0)).Where(v => v.Producer is not null && v.IsStatic && !_outputs.Contains(v)).Distinct();

    private static IEnumerable<Value?> TrimOptional(Value?[] inputs)
    {
        int n = inputs.Length;
        while (n > 0 && inputs[n - 1] is null) n--;
        return inputs.Take(n);
    }

    public static ValueInfoProto ValueInfo(Value v)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < v.Shape.Length; i++)
        {
            long d = v.Shape[i];
            shape.Dim.Add(d >= 0
                ? new TensorShapeProto.Types.Dimension { DimValue = d }
                : new TensorShapeProto.Types.Dimension { DimParam = i == 0 ? "batch" : $"d{i}" });
        }
        return new ValueInfoProto
        {
            Name = v.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)v.Type, Shape = shape } },
        };
    }

    public byte[] ToBytes() => Google.Protobuf.MessageExtensions.ToByteArray(ToModel());

    public void Save(string path)
    {
        var bytes = ToBytes();
        File.WriteAllBytes(path, bytes);
    }
}

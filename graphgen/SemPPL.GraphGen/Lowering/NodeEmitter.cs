using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>
/// What a lowering's rewrites emit into one graph: nodes (collected per rewrite, from <see cref="Begin"/>), names that
/// are fresh in the graph, and constants, each made once and kept in <see cref="NewInitializers"/>.
/// </summary>
internal sealed class NodeEmitter(GraphProto graph, string constantPrefix)
{
    // values and node names alike: ORT rejects a model with two nodes of one name, and an earlier lowering's nodes are here
    private readonly HashSet<string> _names = [.. graph.Node.SelectMany(n => n.Output).Concat(graph.Node.Select(n => n.Name))
                                                  .Concat(graph.Input.Select(i => i.Name)).Concat(graph.Initializer.Select(i => i.Name))];
    private readonly Dictionary<string, string> _constants = [];

    /// <summary>The constants made so far; the lowering adds those the graph still reads.</summary>
    public List<TensorProto> NewInitializers { get; } = [];

    /// <summary>The nodes of the current rewrite.</summary>
    public List<NodeProto> Nodes { get; private set; } = [];

    /// <summary>Starts a rewrite: returns its (empty) node list.</summary>
    public List<NodeProto> Begin() => Nodes = [];

    public void Add(NodeProto node) => Nodes.Add(node);

    public string Fresh(string hint)
    {
        string name = hint;
        for (int k = 1; !_names.Add(name); k++) name = $"{hint}.{k}";
        return name;
    }

    /// <summary>An int64 constant of <paramref name="values"/> (a 1-D tensor: shapes, pads, axes).</summary>
    public string Const(long[] values) =>
        Constant("i:" + string.Join(',', values), () => HostTensor.Vector(values));

    /// <summary>A float constant, made once per <paramref name="key"/> (which must name its contents).</summary>
    public string Const(string key, Func<HostTensor> make) => Constant("f:" + key, make);

    private string Constant(string key, Func<HostTensor> make)
    {
        if (_constants.TryGetValue(key, out var name)) return name;
        name = Fresh(constantPrefix + ".const." + _constants.Count);
        NewInitializers.Add(make().ToProto(name));
        return _constants[key] = name;
    }

    /// <summary>Emits one node of the default domain (or <paramref name="domain"/>) and returns its output's name.</summary>
    public string Op(string opType, string hint, string[] inputs, string domain = "", params AttributeProto[] attributes)
    {
        string y = Fresh(hint);
        var node = new NodeProto { Name = Fresh(hint + "." + opType.ToLowerInvariant()), OpType = opType, Domain = domain, Output = { y } };
        node.Input.AddRange(inputs);
        node.Attribute.AddRange(attributes);
        Nodes.Add(node);
        return y;
    }

    public string Reshaped(string x, long[] shape) => Reshaped(x, Const(shape));

    public string Reshaped(string x, string shape) => Op("Reshape", x + ".reshaped", [x, shape]);

    public string Transposed(string x, long[] perm) => Op("Transpose", x + ".transposed", [x], attributes: Ints("perm", perm));

    public static AttributeProto Ints(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
}

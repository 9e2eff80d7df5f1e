using System.Text;
using Onnx;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Artifacts;
using SemPPL.GraphGen.Tests.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.Autodiff;

/// <summary>
/// Which ops have a gradient: every op that GraphBuilder or the ONNX importer can emit has a rule or is in
/// <see cref="OpsWithoutGradient"/>, and docs/autodiff.md lists exactly what the code has.
/// </summary>
public sealed class GradientCoverageTests(ITestOutputHelper output)
{
    private static readonly IReadOnlyCollection<string> RuleKeys = GradientRegistry.Default.OpTypes;

    // The importer replays these without a node of their own: Constant, Shape and Range are folded on the host,
    // Identity and inference-mode Dropout become their input (Ops_the_importer_replays_without_a_node_leave_none).
    private static readonly string[] ImportedWithoutANode = ["Constant", "Dropout", "Identity", "Range", "Shape"];

    /// <summary>The op types of the nodes built by every shape-inference case, which covers every builder op method.</summary>
    private static SortedSet<string> BuilderOps()
    {
        var ops = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var c in ShapeInferenceTests.Cases)
        {
            var g = new GraphBuilder("coverage");
            c.Build(g, c.Inputs.Select(i => g.Input(i.Name, i.Type, i.Shape)).ToArray());
            foreach (var n in g.Nodes) ops.Add(n.OpType);
        }
        return ops;
    }

    private static bool Covered(string op) => RuleKeys.Contains(op) || OpsWithoutGradient.Contains(op);

    [Fact]
    public void Every_op_the_graph_builder_can_emit_has_a_rule_or_a_reason_for_none()
    {
        var ops = BuilderOps();
        output.WriteLine($"{ops.Count} op types: {string.Join(", ", ops)}");
        Assert.Contains("Conv", ops); // the cases really ran
        var missing = ops.Where(op => !Covered(op)).ToList();
        Assert.True(missing.Count == 0, $"ops GraphBuilder emits with neither a gradient rule nor an entry in OpsWithoutGradient: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_op_the_importer_replays_has_a_rule_or_a_reason_for_none()
    {
        // The importer builds through GraphBuilder, so its nodes are covered above; this catches a handler for an op
        // type GraphBuilder has no method for.
        var missing = OnnxImporter.SupportedOps.Where(op => !Covered(op) && !ImportedWithoutANode.Contains(op)).ToList();
        Assert.True(missing.Count == 0, $"ops the importer supports with neither a gradient rule nor an entry in OpsWithoutGradient: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Ops_the_importer_replays_without_a_node_leave_none()
    {
        // y = Reshape(Dropout(Identity(x)), Shape(x)) + Reshape(Cast(Range(0, 6, 1)), c) with c = Constant [2, 3].
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "nodeless" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        var graph = model.Graph;
        var xShape = new TensorShapeProto();
        xShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 2 });
        xShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 3 });
        graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DType.Float, Shape = xShape } } });
        graph.Output.Add(new ValueInfoProto { Name = "y" });
        graph.Initializer.Add(HostTensor.Int64([], [0]).ToProto("zero"));
        graph.Initializer.Add(HostTensor.Int64([], [6]).ToProto("six"));
        graph.Initializer.Add(HostTensor.Int64([], [1]).ToProto("one"));
        void Node(string op, string[] inputs, string result, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Name = result };
            n.Input.AddRange(inputs); n.Output.Add(result); n.Attribute.AddRange(attrs);
            graph.Node.Add(n);
        }
        var shape23 = new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = HostTensor.Int64([2], [2, 3]).ToProto("c") };
        Node("Constant", [], "c", shape23);
        Node("Identity", ["x"], "xi");
        Node("Dropout", ["xi"], "xd");
        Node("Shape", ["x"], "s");
        Node("Reshape", ["xd", "s"], "a");
        Node("Range", ["zero", "six", "one"], "r");
        Node("Cast", ["r"], "rf", new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)DType.Float });
        Node("Reshape", ["rf", "c"], "b");
        Node("Add", ["a", "b"], "y");

        var r = OnnxImporter.Import(model);
        var emitted = r.Graph.Nodes.Select(n => n.OpType).ToList();
        output.WriteLine($"imported nodes: {string.Join(", ", emitted)}");
        Assert.Contains("Add", emitted);
        Assert.Empty(emitted.Intersect(ImportedWithoutANode));
        var y = OrtRunner.Run(r.Graph, new Dictionary<string, HostTensor> { ["x"] = HostTensor.Float([2, 3], [10, 20, 30, 40, 50, 60]) })["y"];
        Assert.Equal(new double[] { 10, 21, 32, 43, 54, 65 }, Enumerable.Range(0, 6).Select(i => y.GetDouble(i)).ToArray());
    }

    [Fact]
    public void Ops_without_a_gradient_have_no_rule_and_can_each_be_emitted()
    {
        var both = OpsWithoutGradient.Reasons.Keys.Where(RuleKeys.Contains).ToList();
        Assert.True(both.Count == 0, $"in OpsWithoutGradient but with a rule: {string.Join(", ", both)}");
        var emittable = BuilderOps().Concat(OnnxImporter.SupportedOps).ToHashSet();
        var stale = OpsWithoutGradient.Reasons.Keys.Where(op => !emittable.Contains(op)).ToList();
        Assert.True(stale.Count == 0, $"in OpsWithoutGradient but neither GraphBuilder nor the importer emits them: {string.Join(", ", stale)}");
    }

    [Fact]
    public void An_op_without_a_gradient_on_the_path_to_the_loss_names_its_reason()
    {
        var g = new GraphBuilder("floor");
        var x = g.Input("x", DType.Float, 2, 3);
        var floor = g.Floor(x);
        var loss = g.ReduceSum(g.Mul(floor, x));
        var e = Assert.Throws<MissingGradientRuleException>(() => Differentiator.Differentiate(g, loss, [x]));
        output.WriteLine(e.Message);
        Assert.Equal("Floor", e.OpType);
        Assert.Contains(OpsWithoutGradient.Reasons["Floor"], e.Message);
        Assert.Contains("stop the gradient", e.Message);
    }

    [Fact]
    public void AddGrad_sums_a_broadcast_gradient_back_and_rejects_any_other_shape()
    {
        // A test rule for Erf hands AddGrad a gradient of its own making for x [2, 3].
        static (GraphBuilder G, Value X, Value Loss) Build()
        {
            var g = new GraphBuilder("addgrad");
            var x = g.Input("x", DType.Float, 2, 3);
            return (g, x, g.ReduceSum(g.AddNode1("Erf", [x], DType.Float, [2, 3])));
        }
        static GradientRegistry WithErfGradient(Func<GraphBuilder, Value, Value> grad)
        {
            var registry = new GradientRegistry();
            registry.Register(new ElementwiseRule("Erf", d => grad(d.Dy.Value.Graph, d.Dy)));
            GradientRegistry.Default.TryGet("ReduceSum", out var reduceSum);
            registry.Register(reduceSum);
            return registry;
        }

        // dy expanded to [4, 2, 3]: AddGrad sums the copies, so the gradient of x is 4 dy = 4.
        var (g, x, loss) = Build();
        Differentiator.Differentiate(g, loss, [x], WithErfGradient((gb, dy) => gb.Expand(dy, 4, 2, 3)));
        var grad = OrtRunner.Run(g, new Dictionary<string, HostTensor> { ["x"] = HostTensor.Float([2, 3], new float[6]) })["grad.x"];
        Assert.Equal(new long[] { 2, 3 }, grad.Shape);
        Assert.All(Enumerable.Range(0, 6), i => Assert.Equal(4.0, grad.GetDouble(i)));

        // [3] is not a shape [2, 3] broadcasts to: a rule bug, reported with the input and both shapes.
        var (g2, x2, loss2) = Build();
        var e = Assert.Throws<ShapeException>(() => Differentiator.Differentiate(g2, loss2, [x2], WithErfGradient((gb, dy) => gb.ReduceSum(dy, [0]))));
        output.WriteLine(e.Message);
        Assert.Contains("'x'", e.Message);
        Assert.Contains("[3]", e.Message);
    }

    /// <summary>The op tables of docs/autodiff.md as the code has them: one row per rule (the table first), then per reason.</summary>
    internal static string DocTables()
    {
        static string Ops(IEnumerable<string> ops) => string.Join(", ", ops.Order(StringComparer.Ordinal).Select(op => $"`{op}`"));
        var table = ElementwiseRules.Table.Select(r => r.Op).ToList();
        var classes = RuleKeys.Except(table)
            .GroupBy(op => { GradientRegistry.Default.TryGet(op, out var rule); return rule.GetType().Name; })
            .OrderBy(group => group.Key, StringComparer.Ordinal);
        var sb = new StringBuilder("| rule | ops |\n|---|---|\n");
        sb.Append($"| element-wise table | {Ops(table)} |\n");
        foreach (var group in classes) sb.Append($"| `{group.Key}` | {Ops(group)} |\n");
        sb.Append("\n| no gradient because | ops |\n|---|---|\n");
        foreach (var group in OpsWithoutGradient.Reasons.GroupBy(kv => kv.Value).OrderBy(group => group.Key, StringComparer.Ordinal))
            sb.Append($"| {group.Key} | {Ops(group.Select(kv => kv.Key))} |\n");
        return sb.ToString();
    }

    [Fact]
    public void The_autodiff_doc_lists_the_ops_of_the_code()
    {
        string doc = File.ReadAllText(Path.Combine(GraphgenCliTests.RepoRoot(), "docs", "autodiff.md")).ReplaceLineEndings("\n");
        string expected = DocTables();
        Assert.True(doc.Contains(expected, StringComparison.Ordinal),
            "docs/autodiff.md does not list the ops the code has; replace its op tables with:\n\n" + expected);
    }
}

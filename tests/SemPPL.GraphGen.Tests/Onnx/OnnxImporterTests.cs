using System.Text.Json;
using Google.Protobuf;
using Onnx;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.Onnx;

public sealed class OnnxImporterTests(ITestOutputHelper output)
{
    // ---------------------------------------------------------------- fixtures (tests/reference/*.py)

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private sealed record Tensor(long[] Shape, double[] Data)
    {
        public HostTensor ToFloat() => HostTensor.Float(Shape, Data.Select(v => (float)v).ToArray());
        public HostTensor ToInt64() => HostTensor.Int64(Shape, Data.Select(v => (long)v).ToArray());
    }

    private static Tensor ReadTensor(JsonElement e) =>
        new(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
            e.GetProperty("data").EnumerateArray().Select(d => d.GetDouble()).ToArray());

    private static JsonElement Fixture(string name) => JsonDocument.Parse(File.ReadAllText(FixturePath(name))).RootElement;

    private static double RelativeError(HostTensor got, Tensor want)
    {
        Assert.Equal(want.Shape, got.Shape);
        double diff = 0, norm = 0;
        for (int i = 0; i < want.Data.Length; i++)
        {
            double d = got.GetDouble(i) - want.Data[i];
            diff += d * d; norm += want.Data[i] * want.Data[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Sqrt(norm), 1e-12);
    }

    private static double MaxAbsError(HostTensor got, Tensor want)
    {
        Assert.Equal(want.Shape, got.Shape);
        return want.Data.Select((w, i) => Math.Abs(got.GetDouble(i) - w)).Max();
    }

    /// <summary>Feeds for every graph input of an import: fixture inputs by name, initial values for parameters.</summary>
    private static Dictionary<string, HostTensor> Feeds(ImportResult r, Dictionary<string, HostTensor> data)
    {
        var feeds = new Dictionary<string, HostTensor>(data);
        foreach (var (v, t) in r.InitialValues) feeds[v.Name] = t;
        return feeds;
    }

    /// <summary>
    /// Imports a fixture model with its initializers as inputs, checks the forward against torch (and against
    /// ORT running the original file), then, when <paramref name="gradients"/>, differentiates sum(out * R)
    /// with graphgen's autodiff and compares every gradient with torch.autograd's.
    /// </summary>
    private void CheckFixture(string json, bool gradients)
    {
        var f = Fixture(json);
        string modelPath = FixturePath(f.GetProperty("model").GetString()!);
        var input = f.GetProperty("input");
        var x = ReadTensor(input);
        string inputName = input.GetProperty("name").GetString()!;
        var data = new Dictionary<string, HostTensor> { [inputName] = x.ToFloat() };
        if (f.TryGetProperty("ids", out var idsJson)) data[idsJson.GetProperty("name").GetString()!] = ReadTensor(idsJson).ToInt64();

        var r = OnnxImporter.Import(modelPath, new ImportOptions
        {
            InitializersAsInputs = true,
            DimValues = new Dictionary<string, long> { ["batch"] = x.Shape[0] },
        });
        var g = r.Graph;
        output.WriteLine($"imported {Path.GetFileName(modelPath)}: {g.Nodes.Count} nodes ({string.Join(", ", g.Nodes.Select(n => n.OpType).Distinct())}); parameters {string.Join(", ", r.Parameters.Select(p => p.Name))}");
        Assert.DoesNotContain(g.Nodes, n => n.OpType is "Shape" or "Constant" or "ConstantOfShape" or "Cast" or "Unsqueeze" && n.Outputs.All(o => o.Type == DType.Int64));

        var outJson = f.GetProperty("output");
        var want = ReadTensor(outJson);
        var outValue = r[outJson.GetProperty("name").GetString()!];
        Assert.Equal(want.Shape, outValue.Shape);

        Value? loss = null;
        if (gradients)
        {
            var rr = g.Constant(ReadTensor(f.GetProperty("R")).ToFloat(), "R");
            loss = g.Output(g.ReduceSum(g.Mul(outValue, rr)), "loss");
            Differentiate(g, loss, r.Inputs.Where(i => i.Type.IsFloating()).Concat(r.Parameters).ToList());
        }

        var results = OrtRunner.Run(g, Feeds(r, data));
        var got = results[outValue.Name];
        double fwdErr = MaxAbsError(got, want) / Math.Max(1, want.Data.Max(Math.Abs));
        output.WriteLine($"forward: max |ORT - torch| / max(1, |torch|) = {fwdErr:E2}");
        Assert.True(fwdErr <= 1e-4, $"forward differs from torch by {fwdErr:E3}");

        // The imported graph computes what ORT computes for the original file.
        var original = OrtRunner.Run(File.ReadAllBytes(modelPath), data);
        double vsOriginal = MaxAbsError(got, new Tensor(original[outJson.GetProperty("name").GetString()!].Shape,
            Enumerable.Range(0, (int)got.ElementCount).Select(i => original[outJson.GetProperty("name").GetString()!].GetDouble(i)).ToArray()));
        Assert.True(vsOriginal <= 1e-5, $"imported graph differs from ORT on the original model by {vsOriginal:E3}");

        if (!gradients) return;
        double lossErr = Math.Abs(results["loss"].GetDouble(0) - f.GetProperty("loss").GetDouble()) / Math.Max(1, Math.Abs(f.GetProperty("loss").GetDouble()));
        Assert.True(lossErr <= 1e-4, $"loss differs from torch by {lossErr:E3}");
        double worst = 0;
        foreach (var gj in f.GetProperty("grads").EnumerateObject())
        {
            var wantGrad = ReadTensor(gj.Value);
            double e = RelativeError(results["grad." + gj.Name], wantGrad);
            output.WriteLine($"gradient {gj.Name}: relative error {e:E2} (|g| = {Math.Sqrt(wantGrad.Data.Sum(v => v * v)):G4})");
            worst = Math.Max(worst, e);
            Assert.True(e <= 1e-3, $"gradient of '{gj.Name}' differs from torch.autograd by {e:E3} (relative, on the norm)");
        }
        GradCheckReport.Record("import:" + Path.GetFileNameWithoutExtension(modelPath), worst);
    }

    private static void Differentiate(GraphBuilder g, Value loss, IReadOnlyList<Value> wrt) => Differentiator.Differentiate(g, loss, wrt);

    [Fact]
    public void TinyCnn_import_and_forward_match_torch()
    {
        CheckFixture("tiny_cnn.json", gradients: false);
        var r = OnnxImporter.Import(FixturePath("tiny_cnn.onnx"), new ImportOptions { InitializersAsInputs = true, DimValues = new Dictionary<string, long> { ["batch"] = 3 } });
        Assert.Equal(["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias"], r.Parameters.Select(p => p.Name));
        Assert.Equal(["bn1.running_mean", "bn1.running_var"], r.RunningStats.Select(p => p.Name));
        // The flatten chain (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) folded into one Reshape to [3, 4].
        Assert.Equal(["Conv", "BatchNormalization", "Relu", "Conv", "Add", "Relu", "MaxPool", "GlobalAveragePool", "Reshape", "Gemm"], r.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal([3L, 4L], r.Graph.Nodes.Single(n => n.OpType == "Reshape").Outputs[0].Shape);
    }

    [Fact]
    public void TinyCnn_gradients_match_torch_autograd() => CheckFixture("tiny_cnn.json", gradients: true);

    [Fact]
    public void TinyShape_import_forward_and_gradients_match_torch() => CheckFixture("tiny_shape.json", gradients: true);

    [Fact]
    public void Initializers_stay_named_initializers_by_default()
    {
        var f = Fixture("tiny_cnn.json");
        var x = ReadTensor(f.GetProperty("input"));
        var r = OnnxImporter.Import(FixturePath("tiny_cnn.onnx"), new ImportOptions { DimValues = new Dictionary<string, long> { ["batch"] = 3 } });
        Assert.Single(r.Graph.Inputs);
        Assert.Empty(r.Parameters);
        Assert.Contains(r.Graph.Initializers, i => i.Value.Name == "conv1.weight");
        Assert.Equal("conv1.weight", r["conv1.weight"].Name);
        var got = OrtRunner.Run(r.Graph, new Dictionary<string, HostTensor> { ["input"] = x.ToFloat() })["logits"];
        Assert.True(MaxAbsError(got, ReadTensor(f.GetProperty("output"))) <= 1e-4);
    }

    [Fact]
    public void Training_mode_batchnorm_normalises_with_batch_statistics_and_outputs_running_statistics()
    {
        var f = Fixture("tiny_cnn.json");
        var t = f.GetProperty("train");
        var x = ReadTensor(f.GetProperty("input"));
        var r = OnnxImporter.Import(FixturePath(t.GetProperty("model").GetString()!), new ImportOptions
        {
            InitializersAsInputs = true,
            DimValues = new Dictionary<string, long> { ["batch"] = 3 },
        });
        // Each BN becomes a centring shift and an inference-mode node fed the batch statistics, both differentiated by
        // their closed-form rules.
        var bns = r.Graph.Nodes.Where(n => n.OpType == "BatchNormalization").ToList();
        Assert.All(bns, n => Assert.Equal(0, n.AttrInt("training_mode", 0)));
        Assert.Equal(bns.Count / 2, bns.Count(n => n.GradientRule == SemPPL.GraphGen.Layers.BatchNorm.BatchStatisticsRule));
        Assert.Equal(bns.Count / 2, bns.Count(n => n.GradientRule == SemPPL.GraphGen.Layers.BatchNorm.ShiftRule));
        Assert.NotEmpty(bns);
        Assert.Equal(2, r.RunningStatUpdates.Count);
        var results = OrtRunner.Run(r.Graph, Feeds(r, new() { ["input"] = x.ToFloat() }));
        double e = MaxAbsError(results["logits"], ReadTensor(t.GetProperty("output")));
        output.WriteLine($"training-mode logits: max abs error {e:E2}");
        Assert.True(e <= 1e-4);
        foreach (var s in t.GetProperty("running_updated").EnumerateObject())
        {
            double es = MaxAbsError(results[s.Name + ".updated"], ReadTensor(s.Value));
            output.WriteLine($"{s.Name}.updated: max abs error {es:E2}");
            Assert.True(es <= 1e-5, $"{s.Name}: updated running statistic differs from torch by {es:E3}");
        }

        // The eval-mode export imported with BatchNormImport.Training computes the same batch-statistics forward.
        var r2 = OnnxImporter.Import(FixturePath("tiny_cnn.onnx"), new ImportOptions
        {
            InitializersAsInputs = true,
            BatchNorm = BatchNormImport.Training,
            DimValues = new Dictionary<string, long> { ["batch"] = 3 },
        });
        var results2 = OrtRunner.Run(r2.Graph, Feeds(r2, new() { ["input"] = x.ToFloat() }));
        Assert.True(MaxAbsError(results2["logits"], ReadTensor(t.GetProperty("output"))) <= 1e-4);
    }

    [Fact]
    public void A_dynamic_dimension_without_a_size_is_a_clear_error()
    {
        var e = Assert.Throws<ShapeException>(() => OnnxImporter.Import(FixturePath("tiny_cnn.onnx")));
        output.WriteLine(e.Message);
        Assert.Contains("'input'", e.Message);
        Assert.Contains("'batch'", e.Message);
        Assert.Contains("DimValues", e.Message);
        // Explicit input shapes work as well.
        var r = OnnxImporter.Import(FixturePath("tiny_cnn.onnx"), new ImportOptions { InputShapes = new Dictionary<string, long[]> { ["input"] = [2, 1, 12, 12] } });
        Assert.Equal([2L, 5L], r["logits"].Shape);
    }

    // ---------------------------------------------------------------- hand-written models

    private static ValueInfoProto Info(string name, DType type, params long[] shape)
    {
        var s = new TensorShapeProto();
        foreach (var d in shape) s.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = s } } };
    }

    private static NodeProto NodeOf(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attrs)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs); n.Output.AddRange(outputs); n.Attribute.AddRange(attrs);
        return n;
    }

    private static AttributeProto IntsAttr(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    private static AttributeProto IntAttr(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    private static ModelProto ModelOf(int opset, ValueInfoProto[] inputs, ValueInfoProto[] outputs, NodeProto[] nodes, params (string Name, HostTensor Data)[] inits)
    {
        var g = new GraphProto { Name = "handwritten" };
        g.Input.AddRange(inputs); g.Output.AddRange(outputs); g.Node.AddRange(nodes);
        foreach (var (name, data) in inits) g.Initializer.Add(data.ToProto(name));
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "test" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    private static HostTensor RandomFloat(int seed, params long[] shape) =>
        HostTensor.Float(shape, GradCheck.RandomData(seed, shape).Select(v => (float)v).ToArray());

    /// <summary>Runs the original model and the imported graph in ORT on the same feeds; outputs must agree.</summary>
    private void AssertSameAsOriginal(ModelProto model, Dictionary<string, HostTensor> feeds, ImportOptions? options = null)
    {
        var r = OnnxImporter.Import(model, options);
        var original = OrtRunner.Run(model.ToByteArray(), feeds);
        var imported = OrtRunner.Run(r.Graph, Feeds(r, feeds));
        foreach (var o in model.Graph.Output)
        {
            var a = original[o.Name]; var b = imported[o.Name];
            Assert.Equal(a.Shape, b.Shape);
            Assert.Equal(a.Type, b.Type);
            double e = Enumerable.Range(0, (int)a.ElementCount).Select(i => Math.Abs(a.GetDouble(i) - b.GetDouble(i))).DefaultIfEmpty(0).Max();
            output.WriteLine($"{o.Name}: {a.Type}{Shapes.Str(a.Shape)}, max |original - imported| = {e:E2}");
            Assert.True(e <= 1e-5, $"output '{o.Name}' differs by {e:E3}");
        }
    }

    [Fact]
    public void Builder_graphs_round_trip_through_the_importer()
    {
        // A graph written by graphgen itself (opset 21) exercises the attribute mapping of many ops at once.
        var g = new GraphBuilder("roundtrip");
        var x = g.Input("x", DType.Float, 2, 3, 8, 8);
        var w = g.Initializer("w", RandomFloat(1, 4, 3, 3, 3));
        var c = g.Conv(x, w, g.Initializer("b", RandomFloat(2, 4)), strides: [2, 2], pads: [1, 0, 1, 1]);
        var (mp, idx) = g.MaxPoolWithIndices(g.Relu(c), [2, 2], [1, 1], [0, 0, 1, 1]);
        var ap = g.AveragePool(g.Sigmoid(c), [3, 3], [2, 2], [1, 1, 1, 1], countIncludePad: false, ceil: true);
        var gap = g.GlobalAveragePool(g.Tanh(mp));
        var flat = g.Flatten(gap, 1);
        var parts = g.Split(g.Transpose(flat, 1, 0), 0, 1, 3);
        var sq = g.Squeeze(g.Unsqueeze(parts[1], 0), 0);
        var sl = g.Slice(g.Reshape(ap, 2, -1), [-1], [long.MinValue], [1], [-2]);
        var sm = g.Softmax(g.Div(sl, g.Add(g.Abs(sl), 1f)), 1);
        var mean = g.ReduceMean(g.Pad(sm, [0, 1, 0, 0], 0.5f), [1], keepDims: true);
        var gm = g.Gemm(g.Clip(flat, -0.3f, 0.3f), g.Initializer("fw", RandomFloat(3, 5, 4)), g.Initializer("fb", RandomFloat(4, 5)), transB: true);
        var cat = g.Concat([gm, mean, g.MatMul(flat, g.Initializer("mw", RandomFloat(5, 4, 2)))], 1);
        g.Output(cat, "cat");
        g.Output(sq, "sq");
        g.Output(g.Cast(idx, DType.Float), "idx");
        g.Output(g.LogSoftmax(g.Expand(g.Tile(mean, 1, 2), 3, 2, 2), -1), "lsm");
        var model = g.ToModel();
        AssertSameAsOriginal(model, new() { ["x"] = RandomFloat(6, 2, 3, 8, 8) });
        AssertSameAsOriginal(model, new() { ["x"] = RandomFloat(6, 2, 3, 8, 8) }, new ImportOptions { InitializersAsInputs = true });
    }

    [Fact]
    public void Opset_11_attribute_forms_are_understood()
    {
        // Opset 11: axes as attributes (Unsqueeze, Squeeze, ReduceSum, ReduceMean), Split sizes as an attribute,
        // Softmax coercing its input to 2-D at axis 1, Clip bounds as inputs, Pad pads as an input.
        var clipMin = HostTensor.Scalar(-0.2f); var clipMax = HostTensor.Scalar(0.4f);
        var model = ModelOf(11,
            [Info("x", DType.Float, 2, 3, 4)],
            [Info("sm", DType.Float, 2, 3, 4), Info("red", DType.Float, 1, 3, 1), Info("s0", DType.Float, 2, 1, 4), Info("s1", DType.Float, 2, 2, 4), Info("cl", DType.Float, 2, 3, 4), Info("pd", DType.Float, 2, 4, 5)],
            [
                NodeOf("Softmax", "sm", ["x"], ["sm"], IntAttr("axis", 1)),
                NodeOf("Unsqueeze", "u", ["x"], ["u"], IntsAttr("axes", 0)),
                NodeOf("ReduceSum", "rs", ["u"], ["rs"], IntsAttr("axes", 1), IntAttr("keepdims", 0)),
                NodeOf("ReduceMean", "rm", ["rs"], ["rm"], IntsAttr("axes", -1), IntAttr("keepdims", 1)),
                NodeOf("Squeeze", "sq", ["rm"], ["red0"], IntsAttr("axes", 0)),
                NodeOf("Unsqueeze", "u2", ["red0"], ["red"], IntsAttr("axes", 0)),
                NodeOf("Split", "sp", ["x"], ["s0", "s1"], IntAttr("axis", 1), IntsAttr("split", 1, 2)),
                NodeOf("Clip", "cl", ["x", "lo", "hi"], ["cl"]),
                NodeOf("Pad", "pd", ["x", "pads"], ["pd"]),
            ],
            ("lo", clipMin), ("hi", clipMax), ("pads", HostTensor.Vector(0, 1, 0, 0, 0, 1)));
        AssertSameAsOriginal(model, new() { ["x"] = RandomFloat(7, 2, 3, 4) });
    }

    [Fact]
    public void Shape_arithmetic_is_folded_on_the_host()
    {
        // y = Reshape(x, Concat(Shape(x)[0:1], [-1])) with an unused Range and ConstantOfShape in between.
        var model = ModelOf(17,
            [Info("x", DType.Float, 2, 3, 4)],
            [Info("y", DType.Float, 2, 12)],
            [
                NodeOf("Shape", "shape", ["x"], ["s"]),
                NodeOf("Slice", "first", ["s", "zero", "one"], ["n"]),
                NodeOf("Concat", "cat", ["n", "minus1"], ["target"], IntAttr("axis", 0)),
                NodeOf("Mul", "mul", ["target", "one"], ["target2"]),
                NodeOf("Reshape", "reshape", ["x", "target2"], ["y"]),
            ],
            ("zero", HostTensor.Vector(0)), ("one", HostTensor.Vector(1)), ("minus1", HostTensor.Vector(-1)));
        var r = OnnxImporter.Import(model);
        Assert.Equal(["Reshape"], r.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal([2L, -1L], r.Constants["target2"].Longs);
        AssertSameAsOriginal(model, new() { ["x"] = RandomFloat(8, 2, 3, 4) });
    }

    [Fact]
    public void An_unsupported_op_names_the_op_the_node_and_the_supported_list()
    {
        var model = ModelOf(17,
            [Info("x", DType.Float, 2, 3)],
            [Info("y", DType.Float, 2, 3)],
            [NodeOf("Relu", "relu0", ["x"], ["h"]), NodeOf("Erf", "my_erf_node", ["h"], ["y"])]);
        var e = Assert.Throws<UnsupportedOnnxOpException>(() => OnnxImporter.Import(model));
        output.WriteLine(e.Message);
        Assert.Equal("Erf", e.OpType);
        Assert.Equal("my_erf_node", e.NodeName);
        Assert.Contains("'Erf'", e.Message);
        Assert.Contains("'my_erf_node'", e.Message);
        Assert.Contains("supported ops:", e.Message);
        foreach (var op in new[] { "Conv", "BatchNormalization", "Gemm", "MaxPool", "Reshape", "Softmax" }) Assert.Contains(op, e.Message);

        var custom = ModelOf(17, [Info("x", DType.Float, 2)], [Info("y", DType.Float, 2)], [NodeOf("Relu", "r", ["x"], ["y"])]);
        custom.Graph.Node[0].Domain = "com.microsoft";
        var e2 = Assert.Throws<UnsupportedOnnxOpException>(() => OnnxImporter.Import(custom));
        Assert.Contains("com.microsoft", e2.Message);
    }

    [Fact]
    public void A_shape_error_in_a_node_names_the_node()
    {
        var model = ModelOf(17,
            [Info("a", DType.Float, 2, 3), Info("b", DType.Float, 4, 5)],
            [Info("y", DType.Float, 2, 5)],
            [NodeOf("MatMul", "the_matmul", ["a", "b"], ["y"])]);
        var e = Assert.Throws<ShapeException>(() => OnnxImporter.Import(model));
        output.WriteLine(e.Message);
        Assert.Contains("the_matmul", e.Message);
        Assert.Contains("[2,3]", e.Message);
        Assert.Contains("[4,5]", e.Message);
    }

    [Fact]
    public void Inputs_can_be_bound_to_values_of_an_existing_graph()
    {
        var model = ModelOf(17, [Info("x", DType.Float, 2, 3)], [Info("y", DType.Float, 2, 3)], [NodeOf("Relu", "r", ["x"], ["y"])]);
        var g = new GraphBuilder("outer");
        var a = g.Input("a", DType.Float, 2, 3);
        var pre = g.Mul(a, -1f);
        var r = OnnxImporter.Import(g, model, new ImportOptions { InputBindings = new Dictionary<string, Value> { ["x"] = pre }, MarkOutputs = false, NamePrefix = "enc." });
        Assert.Same(pre, r["x"]);
        g.Output(r["y"], "out");
        var res = OrtRunner.Run(g, new Dictionary<string, HostTensor> { ["a"] = HostTensor.Float([2, 3], [1, -2, 3, -4, 5, -6]) });
        Assert.Equal([0.0, 2, 0, 4, 0, 6], Enumerable.Range(0, 6).Select(i => res["out"].GetDouble(i)));
    }
}

using Google.Protobuf;
using Onnx;
using SemPPL.Tests.TestConfigs;
using SemPPL.Tests.Training;

namespace SemPPL.Tests.Cli;

/// <summary>
/// Problems of an onnx: backbone reach `semppl train` as one message and exit 2 (a config the network cannot be built
/// from), and a file exported with a fixed batch size trains when its graph does not compute with that size. The
/// files are variants of the tiny_backbone.onnx fixture, edited here the way the named export would have written them.
/// </summary>
[Collection(TinyRunCollection.Name)]
public sealed class OnnxBackboneCliTests : IDisposable
{
    private readonly TempRun _run = new("cli-onnx");
    private readonly string _dir = Directory.CreateTempSubdirectory("semppl-onnx-cli-").FullName;

    public void Dispose()
    {
        _run.Dispose();
        Directory.Delete(_dir, true);
    }

    private static ModelProto Fixture()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "SemPPL.Ort.sln"))) d = d.Parent;
        Assert.True(d is not null, "cannot find the repository root");
        return ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(d!.FullName, "tests", "SemPPL.GraphGen.Tests", "Fixtures", "tiny_backbone.onnx")));
    }

    private string Save(ModelProto model, string name)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>What torch.onnx.export writes without dynamic_axes: the batch dimension of the input and outputs fixed (8).</summary>
    private static ModelProto FixedBatch(ModelProto m)
    {
        foreach (var vi in m.Graph.Input.Concat(m.Graph.Output))
            vi.Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimValue = 8 };
        return m;
    }

    private static TensorProto Int64s(string name, long[] values, bool scalar = false)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        if (!scalar) t.Dims.Add(values.Length);
        t.Int64Data.Add(values);
        return t;
    }

    private (int Code, string StdOut, string StdErr) Train(string onnx, string output = "features")
    {
        string yaml = TinyConfig.Yaml
            .Replace("backbone: resnet18", $"backbone: onnx:{onnx}\n  onnx_input: images\n  onnx_output: {output}")
            .Replace("queue_capacity: 100", "queue_capacity: auto");
        return SempplProcess.Run("train", "--config", _run.WriteConfig(yaml), "--out", _run.Root, "--no-eval", "--steps", "1", "--set", "training.warmup_steps=0", "--force");
    }

    private static void AssertConfigError((int Code, string StdOut, string StdErr) r, params string[] expected)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.StdErr}");
        Assert.StartsWith("semppl: Invalid configuration", r.StdErr);
        Assert.Contains("model.", r.StdErr);
        foreach (var e in expected) Assert.Contains(e, r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);
        Assert.DoesNotContain("Unhandled exception", r.StdErr);
    }

    [Fact]
    public void A_wrong_onnx_output_is_a_config_error()
    {
        AssertConfigError(Train(Save(Fixture(), "ok.onnx"), output: "featurez"), "model.onnx_output", "'featurez'", "features, logits");
    }

    [Fact]
    public void A_fixed_batch_size_trains_when_the_graph_does_not_compute_with_it()
    {
        var r = Train(Save(FixedBatch(Fixture()), "fixed.onnx"));
        Assert.True(r.Code == 0, r.StdErr);
        Assert.Contains("trained 1 steps", r.StdOut);
    }

    [Fact]
    public void A_fixed_batch_size_the_graph_computes_with_says_how_to_re_export()
    {
        // x.view(8, -1) exported without dynamic_axes: a Reshape to the constant shape [8, -1] in place of the Flatten.
        var m = FixedBatch(Fixture());
        var flatten = m.Graph.Node.Single(n => n.OpType == "Flatten");
        var reshape = new NodeProto { OpType = "Reshape", Name = "/Reshape" };
        reshape.Input.Add(flatten.Input[0]);
        reshape.Input.Add("shape_8");
        reshape.Output.Add(flatten.Output[0]);
        m.Graph.Node[m.Graph.Node.IndexOf(flatten)] = reshape;
        m.Graph.Initializer.Add(Int64s("shape_8", [8, -1]));
        AssertConfigError(Train(Save(m, "fixed-view.onnx")), "fixed batch size of 8", "dynamic_axes", "torch.flatten(x, 1)");
    }

    [Fact]
    public void An_unsupported_op_is_a_config_error_naming_it()
    {
        var m = Fixture();
        m.Graph.Node.First(n => n.OpType == "Relu").OpType = "Det";
        AssertConfigError(Train(Save(m, "det.onnx")), "op 'Det'", "is not supported");
    }

    [Fact]
    public void An_op_without_a_gradient_rule_is_a_config_error_naming_the_files_node()
    {
        // CumSum (no gradient rule) after the first ReLU, under the file's own node name.
        var m = Fixture();
        var relu = m.Graph.Node.First(n => n.OpType == "Relu");
        string output = relu.Output[0];
        relu.Output[0] = output + ".pre";
        var cumsum = new NodeProto { OpType = "CumSum", Name = "/my_block/CumSum" };
        cumsum.Input.Add(output + ".pre");
        cumsum.Input.Add("cumsum_axis");
        cumsum.Output.Add(output);
        m.Graph.Node.Insert(m.Graph.Node.IndexOf(relu) + 1, cumsum);
        m.Graph.Initializer.Add(Int64s("cumsum_axis", [1], scalar: true));
        AssertConfigError(Train(Save(m, "cumsum.onnx")), "no gradient rule for op 'CumSum'", "node '/my_block/CumSum' (CumSum) of the imported model");
    }
}

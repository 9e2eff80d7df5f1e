using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using static SemPPL.GraphGen.Tests.Artifacts.OnnxBackboneConfigs;

namespace SemPPL.GraphGen.Tests.Artifacts;

/// <summary>An artifact set whose encoder is an onnx:&lt;path&gt; backbone (the tiny_backbone.onnx fixture).</summary>
public sealed class OnnxBackboneArtifactTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "semppl-onnxbb-" + Guid.NewGuid().ToString("N")[..8]);

    public OnnxBackboneArtifactTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    private static readonly string[] SetFiles =
    [
        ArtifactNames.TrainFile, ArtifactNames.TargetFile, ArtifactNames.OptimizerFile, ArtifactNames.EmaFile,
        ArtifactNames.QueueFile, ArtifactNames.PseudoLabelFile, ArtifactNames.EvalFile, ArtifactNames.ManifestFile,
        ArtifactNames.InitialWeightsFile,
    ];

    [Fact]
    public void Generates_a_complete_set_that_loads_and_starts_from_the_files_weights()
    {
        string dir = Path.Combine(_root, "set");
        var manifest = ArtifactSetWriter.Write(MakeConfig(TinyBackbone), LabelledImages, dir);

        Assert.Equal(SetFiles.Order(StringComparer.Ordinal), Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(Directory.GetDirectories(_root), d => d != dir); // no temporary sibling left

        using (var options = new SessionOptions { IntraOpNumThreads = 1 })
            foreach (var file in Directory.GetFiles(dir, "*.onnx"))
            {
                using var session = new InferenceSession(file, options);
                Assert.NotEmpty(session.InputNames);
            }

        // Parameters: the fixture's initializers up to "features" (fc.* is after it), with kinds by role.
        var kinds = manifest.Parameters.Where(p => p.Head == "encoder").ToDictionary(p => p.Name, p => p.Kind);
        Assert.Equal(new Dictionary<string, string>
        {
            ["online.encoder.conv1.weight"] = nameof(ParameterKind.ConvWeight),
            ["online.encoder.bn1.weight"] = nameof(ParameterKind.BnScale),
            ["online.encoder.bn1.bias"] = nameof(ParameterKind.BnBias),
            ["online.encoder.conv2.weight"] = nameof(ParameterKind.ConvWeight),
            ["online.encoder.conv2.bias"] = nameof(ParameterKind.Bias),
            ["online.encoder.bn2.weight"] = nameof(ParameterKind.BnScale),
            ["online.encoder.bn2.bias"] = nameof(ParameterKind.BnBias),
        }, kinds);
        Assert.Equal(["online.encoder.bn1.running_mean", "online.encoder.bn1.running_var", "online.encoder.bn2.running_mean", "online.encoder.bn2.running_var"],
            manifest.Buffers.Where(b => b.Name.StartsWith("online.encoder.", StringComparison.Ordinal)).Select(b => b.Name).ToArray());
        Assert.Equal(16, manifest.Graphs["eval"].Outputs.Single(o => o.Name == ArtifactNames.Embedding).Shape[1]);
        Assert.Contains(manifest.State, t => t is { Name: "target.encoder.conv1.weight", Init: StateInit.CopyOf, CopyOf: "online.encoder.conv1.weight" });
        Assert.Contains(manifest.State, t => t is { Name: "target.encoder.bn2.running_var", Init: StateInit.CopyOf, CopyOf: "online.encoder.bn2.running_var" });

        // Initial weights equal the file's initializers, bit for bit; fc.* is not part of the encoder.
        var initial = TensorFile.Read(Path.Combine(dir, ArtifactNames.InitialWeightsFile));
        var model = OnnxImporter.Load(TinyBackbone);
        int compared = 0;
        foreach (var init in model.Graph.Initializer)
        {
            string name = "online.encoder." + init.Name;
            if (init.Name.StartsWith("fc.", StringComparison.Ordinal))
            {
                Assert.DoesNotContain(initial.Tensors, t => t.Name == name);
                continue;
            }
            var expected = HostTensor.FromProto(init);
            var actual = initial[name];
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Floats, actual.Floats);
            compared++;
        }
        Assert.Equal(11, compared);

        // eval.onnx (inference BN) with the initial weights computes the file's own "features".
        var rng = new Random(5);
        var images = HostTensor.Float([3, 1, 28, 28], Enumerable.Range(0, 3 * 28 * 28).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        var reference = OrtRunner.Run(File.ReadAllBytes(TinyBackbone), new Dictionary<string, HostTensor> { ["images"] = images })["features"];
        var feeds = initial.Tensors.ToDictionary(t => t.Name, t => t.Tensor);
        feeds[ArtifactNames.Images] = images;
        var ours = OrtRunner.Run(File.ReadAllBytes(Path.Combine(dir, ArtifactNames.EvalFile)), feeds)[ArtifactNames.Embedding];
        Assert.Equal(reference.Shape, ours.Shape);
        for (int i = 0; i < reference.Floats.Length; i++)
            Assert.True(Math.Abs(reference.Floats[i] - ours.Floats[i]) <= 1e-4f * (1 + Math.Abs(reference.Floats[i])),
                $"embedding[{i}]: {ours.Floats[i]} vs the file's {reference.Floats[i]}");
    }

    [Fact]
    public void Same_config_gives_byte_identical_files()
    {
        string a = Path.Combine(_root, "a"), b = Path.Combine(_root, "b");
        ArtifactSetWriter.Write(MakeConfig(TinyBackbone), LabelledImages, a);
        ArtifactSetWriter.Write(MakeConfig(TinyBackbone), LabelledImages, b);
        var files = Directory.GetFiles(a).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(files, Directory.GetFiles(b).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(SetFiles.Length, files.Length);
        foreach (var f in files)
            Assert.True(File.ReadAllBytes(Path.Combine(a, f!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, f!))), $"{f} differs between two generations");
    }

    [Fact]
    public void Several_views_share_one_set_of_parameters_and_chain_the_running_statistics()
    {
        var g = new GraphBuilder("views");
        var ctx = new ModelContext(g, "online.", ModelMode.Training);
        var backbone = new OnnxBackbone(TinyBackbone, "images", "features", 1);
        var x1 = g.Input("x1", DType.Float, 2, 1, 28, 28);
        var x2 = g.Input("x2", DType.Float, 2, 1, 14, 14);
        var f1 = backbone.Forward(ctx, x1);
        var f2 = backbone.Forward(ctx, x2);
        Assert.Equal([2L, 16], f1.Shape);
        Assert.Equal([2L, 16], f2.Shape);
        Assert.Equal(16, backbone.FeatureDim);
        Assert.Equal(7, ctx.Parameters.Count);
        Assert.Equal(4, ctx.Buffers.Count);
        // One graph input per parameter and buffer (plus the two views): the second forward bound the same Values.
        Assert.Equal(2 + 7 + 4, g.Inputs.Count);
        Assert.All(ctx.Buffers, b => Assert.NotSame(ctx.BufferInput(b.Name), ctx.UpdatedBuffers[b.Name]));
        Assert.All(ctx.Parameters, p => Assert.NotNull(p.InitialValue));
    }

    [Fact]
    public void Late_build_failure_leaves_no_half_written_set_and_keeps_an_existing_one()
    {
        string bad = UnsupportedOpBackbone(_root);
        string dir = Path.Combine(_root, "set");

        var e = Assert.Throws<UnsupportedOnnxOpException>(() => ArtifactSetWriter.Write(MakeConfig(bad), LabelledImages, dir));
        Assert.Contains("Celu", e.Message);
        Assert.False(Directory.Exists(dir));
        Assert.Equal([Path.GetFileName(bad)], Directory.GetFileSystemEntries(_root).Select(e => Path.GetFileName(e)).ToArray());

        // A complete set already there survives a failed regeneration unchanged.
        ArtifactSetWriter.Write(MakeConfig(TinyBackbone), LabelledImages, dir);
        var before = Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Assert.Throws<UnsupportedOnnxOpException>(() => ArtifactSetWriter.Write(MakeConfig(bad), LabelledImages, dir));
        var after = Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (f, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[f]), $"{f} changed");
        Assert.Equal(2, Directory.GetFileSystemEntries(_root).Length);
    }

    /// <summary>tiny_backbone.onnx with its first Relu turned into Celu (an op the importer does not replay), written into <paramref name="folder"/>.</summary>
    public static string UnsupportedOpBackbone(string folder)
    {
        var model = OnnxImporter.Load(TinyBackbone);
        var relu = model.Graph.Node.First(n => n.OpType == "Relu");
        relu.OpType = "Celu";
        string path = Path.Combine(folder, "bad_backbone.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        return path;
    }
}

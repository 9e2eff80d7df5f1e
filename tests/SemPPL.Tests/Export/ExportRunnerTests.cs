using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Tests.Cli;
using SemPPL.Tests.Training;
using SemPPL.Trainer.Export;

namespace SemPPL.Tests.Export;

/// <summary>A [Fact] skipped, with the reason, when Debian's python3-onnx is not installed (CI installs it).</summary>
public sealed class PythonOnnxFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";

    public PythonOnnxFactAttribute()
    {
        if (!Available.Value) Skip = $"{Python} with the onnx module is not installed (apt-get install python3-onnx); the ONNX checker cannot run";
    }

    public static readonly Lazy<bool> Available = new(() => Check("import onnx").Code == 0);

    public static (int Code, string Output) Check(string script)
    {
        if (!File.Exists(Python)) return (-1, "no " + Python);
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit(60_000);
        return (p.ExitCode, o.Result + e.Result);
    }
}

[Collection(TinyRunCollection.Name)]
public class ExportRunnerTests(TinyRunFixture run)
{
    [PythonOnnxFact]
    public void Exported_model_matches_eval_onnx_is_opset_17_dynamic_batch_bn_folded_and_passes_the_checker()
    {
        string path = Path.Combine(run.Root, "export", "model.onnx");
        var r = ExportRunner.Run(run.Folder, path, includeClassifier: true, _ => { });
        Assert.InRange(r.MaxAbsDifference, 0, ExportRunner.Tolerance);
        Assert.Equal(20, r.CheckpointStep);
        Assert.True(r.FoldedBatchNorms > 0);

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.Equal(17, model.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version);
        var g = model.Graph;
        Assert.Equal(new[] { ArtifactNames.Images }, g.Input.Select(i => i.Name));
        Assert.Equal(new[] { ArtifactNames.Embedding, ArtifactNames.Logits }, g.Output.Select(o => o.Name));
        foreach (var v in g.Input.Concat(g.Output))
        {
            var batchDim = v.Type.TensorType.Shape.Dim[0];
            Assert.True(batchDim.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue, $"{v.Name}: batch dimension is fixed at {batchDim.DimValue}");
        }
        var producers = g.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(x => x.o, x => x.n);
        Assert.DoesNotContain(g.Node, n => n.OpType == "BatchNormalization" && producers.TryGetValue(n.Input[0], out var p) && p.OpType == "Conv");
        Assert.DoesNotContain(g.Input, i => g.Initializer.Any(t => t.Name == i.Name)); // weights are initializers, not inputs

        // Dynamic batch for real: ONNX Runtime runs it at batch sizes other than the one it was compared at.
        using var session = new InferenceSession(path);
        foreach (int n in new[] { 1, 3 })
        {
            var input = new DenseTensor<float>(new float[n * 28 * 28], [n, 1, 28, 28]);
            using var outputs = session.Run([NamedOnnxValue.CreateFromTensor(ArtifactNames.Images, input)]);
            Assert.Equal(n, outputs.First(o => o.Name == ArtifactNames.Embedding).AsTensor<float>().Dimensions[0]);
            Assert.Equal(new[] { n, 10 }, outputs.First(o => o.Name == ArtifactNames.Logits).AsTensor<float>().Dimensions.ToArray());
        }

        var (code, output) = PythonOnnxFactAttribute.Check($"import onnx; onnx.checker.check_model(onnx.load('{path}'), full_check=True)");
        Assert.True(code == 0, $"onnx.checker rejected {path}: {output}");
    }

    [Fact]
    public void Export_without_classifier_through_the_cli_has_only_the_embedding_output()
    {
        string path = Path.Combine(run.Root, "export", "embedding-only.onnx");
        var (code, stdout, stderr) = SempplProcess.Run("export", "--run", run.Root, "--out", path, "--no-classifier");
        Assert.True(code == 0, $"semppl export failed ({code}): {stderr}");
        Assert.Contains("BatchNorms folded", stdout);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.Equal(new[] { ArtifactNames.Embedding }, model.Graph.Output.Select(o => o.Name));
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name.Contains("classifier"));
    }
}

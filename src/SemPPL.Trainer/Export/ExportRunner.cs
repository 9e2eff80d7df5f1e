using Google.Protobuf;
using Onnx;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.Export;

/// <summary>What `semppl export` wrote and how closely it matches eval.onnx.</summary>
public sealed record ExportResult(string Path, long Bytes, int FoldedBatchNorms, double MaxAbsDifference, long CheckpointStep);

/// <summary>
/// `semppl export`: the deployable model of the newest checkpoint (opset 17, dynamic batch, BN folded
/// into the convolutions, embedding and logits outputs), checked against eval.onnx on a test batch.
/// </summary>
public static class ExportRunner
{
    public const int ExportOpset = 17;
    /// <summary>The IR version that goes with opset 17 (ONNX 1.12): older checkers and runtimes reject a higher one.</summary>
    public const long ExportIrVersion = 8;
    public const double Tolerance = 1e-4;

    public static ExportResult Run(RunFolder folder, string outPath, bool includeClassifier, Action<string> log)
    {
        var c = EvaluationContext.Open(folder, "cpu", log);
        using var factory = c.Factory;
        var store = new CheckpointStore(folder.Root, c.Config.Training.KeepCheckpoints, w => log($"warning: {w}"));
        var checkpoint = store.LoadLatest() ?? throw new FileNotFoundException($"export: no checkpoint in {folder.Checkpoints}; train first");
        var weights = checkpoint.Tensors.Where(t => c.EvalGraph.ReadsState(t.Name))
            .ToDictionary(t => t.Name, t => t.Tensor);

        var evalGraph = EvalGraphBuilder.Build(c.Config, c.Manifest.Shapes, batch: -1, opset: ExportOpset);
        var model = ModelExporter.Export(evalGraph.ToModel(), weights, includeClassifier);
        int folded = evalGraph.Nodes.Count(n => n.OpType == "BatchNormalization") - model.Graph.Node.Count(n => n.OpType == "BatchNormalization");
        var outputs = model.Graph.Output.Select(o => o.Name).ToList();
        foreach (var name in new[] { ArtifactNames.Projection })
            foreach (var o in model.Graph.Output.Where(o => o.Name == name).ToList()) model.Graph.Output.Remove(o);
        ModelExporter.Prune(model.Graph);
        model.IrVersion = ExportIrVersion;
        string dir = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        Directory.CreateDirectory(dir);
        ModelExporter.Save(model, outPath);

        double diff = CompareWithEval(c, weights, File.ReadAllBytes(outPath), includeClassifier);
        if (diff > Tolerance)
            throw new InvalidDataException($"export: the exported model differs from eval.onnx by {diff:E2} (> {Tolerance:E0}); not using {outPath}");
        log($"exported {outPath}: {folded} BatchNorms folded, max |difference| vs eval.onnx {diff:E2} on {Math.Min(16, c.TestIndices.Count)} test images");
        return new ExportResult(outPath, new FileInfo(outPath).Length, folded, diff, checkpoint.Step);
    }

    /// <summary>Max absolute difference of embedding (and logits) between the exported model and eval.onnx on a test batch.</summary>
    public static double CompareWithEval(EvaluationContext c, IReadOnlyDictionary<string, HostTensor> weights, byte[] exported, bool includeClassifier)
    {
        int n = Math.Min(16, c.TestIndices.Count);
        var indices = c.TestIndices.Take(n).ToList();
        using var extractor = new EmbeddingExtractor(c.Factory, c.EvalGraph, weights, n, c.Loader.ImageShape);
        var (features, logits) = extractor.Run(c.TestLoader, indices);

        using var runner = new GraphRunner(c.Factory, exported, "exported");
        using var io = new DeviceState(c.Factory);
        var images = io.Add(DeviceTensor.AllocateHost(c.Factory, "images", DType.Float, [n, .. c.Loader.ImageShape]));
        c.TestLoader.Load(indices, images.HostSpan<float>(), augment: false);
        var outs = new Dictionary<string, DeviceTensor>
        {
            [ArtifactNames.Embedding] = io.Add(DeviceTensor.AllocateHost(c.Factory, "e", DType.Float, n, extractor.FeatureDim)),
        };
        if (includeClassifier) outs[ArtifactNames.Logits] = io.Add(DeviceTensor.AllocateHost(c.Factory, "l", DType.Float, n, extractor.NumClasses));
        using var binding = runner.Bind(new Dictionary<string, DeviceTensor> { ["images"] = images }, outs);
        binding.Run();
        double max = MaxAbs(features, outs[ArtifactNames.Embedding].HostSpan<float>());
        if (includeClassifier) max = Math.Max(max, MaxAbs(logits, outs[ArtifactNames.Logits].HostSpan<float>()));
        return max;
    }

    private static double MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}

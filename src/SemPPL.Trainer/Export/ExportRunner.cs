using System.Text.Json;
using Onnx;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Evaluation;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.Export;

/// <summary>What to export: the head (null: the fine-tuned model when evaluation kept one, else the supervised baseline's, else the online classifier), with or without logits, float or uint8 input.</summary>
public sealed record ExportOptions(ModelHead? From = null, bool IncludeClassifier = true, bool Preprocess = false);

/// <summary>What `semppl export` wrote and how closely it matches eval.onnx.</summary>
public sealed record ExportResult(string Path, long Bytes, int FoldedBatchNorms, double MaxAbsDifference, long CheckpointStep,
    ModelHead Head, DeployMetadata Metadata);

/// <summary>
/// `semppl export`: a deployable model (opset 17, dynamic batch, BN folded into the convolutions, embedding and
/// logits outputs, self-describing metadata) of a head kept by evaluation or of the newest checkpoint, checked
/// against eval.onnx on a test batch before it is reported.
/// </summary>
public static class ExportRunner
{
    public const int ExportOpset = 17;
    /// <summary>The IR version that goes with opset 17 (ONNX 1.12): older checkers and runtimes reject a higher one.</summary>
    public const long ExportIrVersion = 8;
    public const double Tolerance = 1e-4;

    public static ExportResult Run(RunFolder folder, string outPath, bool includeClassifier, Action<string> log) =>
        Run(folder, outPath, new ExportOptions(IncludeClassifier: includeClassifier), log);

    public static ExportResult Run(RunFolder folder, string outPath, ExportOptions options, Action<string> log)
    {
        var c = EvaluationContext.Open(folder, "cpu", log);
        using var factory = c.Factory;
        var source = ExportSource.Resolve(folder, c, options.From, log);
        bool classifier = options.IncludeClassifier && source.Head != ModelHead.Encoder;

        var evalGraph = EvalGraphBuilder.Build(c.Config, c.Manifest.Shapes, batch: -1, opset: ExportOpset);
        var evalModel = evalGraph.ToModel();
        var drop = new HashSet<string> { ArtifactNames.Projection };
        if (source.Head == ModelHead.Linear) drop.Add(ArtifactNames.Logits);   // the probe replaces the online classifier
        foreach (var o in evalModel.Graph.Output.Where(o => drop.Contains(o.Name)).ToList()) evalModel.Graph.Output.Remove(o);
        ModelExporter.Prune(evalModel.Graph);
        var model = ModelExporter.Export(evalModel, source.Weights, classifier);
        if (classifier && source.Head == ModelHead.Linear)
            DeployGraphs.AppendLinearProbe(model, source.Weights[ArtifactNames.ProbeWeight], source.Weights[ArtifactNames.ProbeBias], ExportOpset);
        int folded = evalGraph.Nodes.Count(n => n.OpType == "BatchNormalization") - model.Graph.Node.Count(n => n.OpType == "BatchNormalization");
        ModelExporter.Prune(model.Graph);
        model.IrVersion = ExportIrVersion;

        // The check runs on the float-input graph; the --preprocess prefix is tested on its own (DeployTests).
        double diff = CompareWithEval(c, source.Weights, Google.Protobuf.MessageExtensions.ToByteArray(model), classifier,
            source.Head == ModelHead.Linear ? (source.Weights[ArtifactNames.ProbeWeight], source.Weights[ArtifactNames.ProbeBias]) : null);
        if (diff > Tolerance)
            throw new InvalidDataException($"export: the exported model differs from eval.onnx by {diff:E2} (> {Tolerance:E0}); {outPath} not written");

        var s = c.Manifest.Shapes;
        if (options.Preprocess) DeployGraphs.PrependPreprocess(model, (int)s.LargeSize, (int)s.Channels, c.Mean, c.Std, ExportOpset);
        var metadata = new DeployMetadata
        {
            Head = classifier ? source.Head.Name() : source.Head == ModelHead.Online ? ModelHead.Encoder.Name() : source.Head.Name(),
            InputName = ArtifactNames.Images,
            InputLayout = options.Preprocess ? "NHWC" : "NCHW",
            InputType = options.Preprocess ? "uint8" : "float32",
            InputSize = (int)s.LargeSize,
            Channels = (int)s.Channels,
            Mean = c.Mean, Std = c.Std,
            ClassNames = c.ClassNames,
            Outputs = model.Graph.Output.Select(o => o.Name).ToList(),
            EmbeddingDim = evalGraph.Outputs.Single(o => o.Name == ArtifactNames.Embedding).Shape[1],
            TestTop1 = classifier ? source.Top1 : null,
            TestImages = classifier && source.Top1 is not null ? c.TestIndices.Count : null,
            CheckpointStep = source.CheckpointStep,
            ConfigHash = c.Manifest.ConfigHash,
            ToolVersion = $"semppl {ArtifactSetWriter.ToolVersion}",
            Dataset = c.Config.Data.Dataset ?? "",
        };
        metadata.WriteTo(model);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        ModelExporter.Save(model, outPath);
        log($"exported {outPath}: {folded} BatchNorms folded, max |difference| vs eval.onnx {diff:E2} on {Math.Min(16, c.TestIndices.Count)} test images");
        return new ExportResult(outPath, new FileInfo(outPath).Length, folded, diff, source.CheckpointStep, source.Head, metadata);
    }

    /// <summary>
    /// Max absolute difference of embedding (and logits) between the exported model and eval.onnx on a test batch;
    /// with <paramref name="probe"/>, the logits are compared with the probe applied to eval.onnx's embedding.
    /// </summary>
    public static double CompareWithEval(EvaluationContext c, IReadOnlyDictionary<string, HostTensor> weights, byte[] exported, bool includeClassifier,
        (HostTensor Weight, HostTensor Bias)? probe = null)
    {
        int n = Math.Min(16, c.TestIndices.Count);
        var indices = c.TestIndices.Take(n).ToList();
        using var extractor = new EmbeddingExtractor(c.Factory, c.EvalGraph, weights, n, c.Loader.ImageShape);
        var (features, logits) = extractor.Run(c.TestLoader, indices);
        if (probe is { } p) logits = ProbeLogits(features, (int)extractor.FeatureDim, p.Weight.Floats, p.Bias.Floats);

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

    /// <summary>The probe's logits in double precision: 10 * l2normalize(f) W^T + b (LinearProbeGraph).</summary>
    private static float[] ProbeLogits(float[] features, int dim, float[] w, float[] b)
    {
        int rows = features.Length / dim, classes = b.Length;
        var logits = new float[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            var f = features.AsSpan(r * dim, dim);
            double norm = 0;
            foreach (var v in f) norm += (double)v * v;
            norm = Math.Sqrt(norm + 1e-12);
            for (int k = 0; k < classes; k++)
            {
                double dot = 0;
                for (int i = 0; i < dim; i++) dot += f[i] * (double)w[k * dim + i];
                logits[r * classes + k] = (float)(10 * dot / norm + b[k]);
            }
        }
        return logits;
    }

    private static double MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}

/// <summary>The weights an export starts from and what is known about them.</summary>
internal sealed record ExportSource(ModelHead Head, IReadOnlyDictionary<string, HostTensor> Weights, long CheckpointStep, double? Top1)
{
    /// <summary>Picks the head (<paramref name="from"/>, or the default order) and loads its weights.</summary>
    public static ExportSource Resolve(RunFolder folder, EvaluationContext c, ModelHead? from, Action<string> log)
    {
        var models = new TrainedModelStore(folder.Root);
        var head = from ?? (models.Contains(ModelHead.FineTune) ? ModelHead.FineTune
            : models.Contains(ModelHead.Supervised) ? ModelHead.Supervised : ModelHead.Online);
        var latest = new CheckpointStore(folder.Root, c.Config.Training.KeepCheckpoints, w => log($"warning: {w}"));
        if (head is ModelHead.Online or ModelHead.Encoder)
        {
            var checkpoint = latest.LoadLatest() ?? throw new FileNotFoundException($"export: no checkpoint in {folder.Checkpoints}; train first");
            var weights = checkpoint.Tensors.Where(t => c.EvalGraph.ReadsState(t.Name)).ToDictionary(t => t.Name, t => t.Tensor);
            return new ExportSource(head, weights, checkpoint.Step, head == ModelHead.Online ? OnlineTop1(folder, checkpoint.Step) : null);
        }
        string how = head == ModelHead.Supervised ? "run `semppl baseline`" : "run `semppl eval`";
        var m = models.Load(head) ?? throw new FileNotFoundException($"export: {head.Describe()} is not in {models.Folder}; {how} first");
        if (m.ConfigHash != c.Manifest.ConfigHash)
            throw new InvalidDataException($"export: {models.PathFor(head)} was trained for config hash {m.ConfigHash[..12]}, the run is at {c.Manifest.ConfigHash[..12]}; {how} again");
        if (head != ModelHead.Supervised && latest.List() is { Count: > 0 } list && list[^1].Step != m.CheckpointStep)
            log($"warning: {head.Describe()} was trained from checkpoint step {m.CheckpointStep}, the newest checkpoint is step {list[^1].Step}; `semppl eval` refreshes it");
        return new ExportSource(head, m.Weights, m.CheckpointStep, m.Top1);
    }

    /// <summary>The online classifier's top-1 from summary.json when that evaluation was of this checkpoint.</summary>
    private static double? OnlineTop1(RunFolder folder, long step)
    {
        if (!File.Exists(folder.Summary)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(folder.Summary));
            var r = doc.RootElement;
            return r.GetProperty("checkpointStep").GetInt64() == step ? r.GetProperty("onlineClassifierTop1").GetDouble() : null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException) { return null; }
    }
}

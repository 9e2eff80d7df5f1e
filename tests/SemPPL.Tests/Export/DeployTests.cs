using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SemPPL.Data.Datasets;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Tests.Cli;
using SemPPL.Tests.TestConfigs;
using SemPPL.Tests.Training;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Export;
using SemPPL.Trainer.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace SemPPL.Tests.Export;

/// <summary>
/// Deployment end to end on the shared tiny run: evaluation keeps the fine-tuned and linear-probe models, export
/// writes them with metadata, and `semppl predict` on the test split's IDX file reproduces summary.json's accuracies.
/// </summary>
[Collection(TinyRunCollection.Name)]
public class DeployTests(TinyRunFixture run)
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, EvaluationSummary> Evaluated = [];

    /// <summary>The tiny run evaluated once for this class (evaluation also keeps models/finetune.spt and linear.spt).</summary>
    private EvaluationSummary Summary()
    {
        lock (Gate)
        {
            if (!Evaluated.TryGetValue(run.Root, out var s)) Evaluated[run.Root] = s = EvaluationRunner.Run(run.Folder, null, _ => { });
            return s;
        }
    }

    private static string RepoFile(params string[] parts)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SemPPL.Ort.sln"))) return Path.Combine([d.FullName, .. parts]);
        throw new InvalidOperationException("repository root not found");
    }

    private static string TestImagesIdx => RepoFile("src", "SemPPL.Data", "Embedded", "t10k-images-idx3-ubyte.gz");
    private static byte[] TestLabels => IdxReader.Read(RepoFile("src", "SemPPL.Data", "Embedded", "t10k-labels-idx1-ubyte.gz")).Data;

    private string Export(string name, ExportOptions options) =>
        ExportRunner.Run(run.Folder, Path.Combine(run.Root, "deploy", name), options, _ => { }).Path;

    /// <summary>Runs `semppl predict --top 1 --out preds.json` and counts the images whose top class is the label.</summary>
    private static (int Hits, int Rows) PredictTestSplit(string model, string outJson, params string[] extra)
    {
        var (code, _, stderr) = SempplProcess.Run(["predict", "--model", model, TestImagesIdx, "--top", "1", "--out", outJson, "--device", "cpu", .. extra]);
        Assert.True(code == 0, $"semppl predict failed ({code}): {stderr}");
        using var doc = JsonDocument.Parse(File.ReadAllText(outJson));
        var labels = TestLabels;
        int hits = 0, rows = 0;
        foreach (var row in doc.RootElement.EnumerateArray())
        {
            int index = int.Parse(row.GetProperty("path").GetString()!.Split('#')[^1]);
            Assert.Equal(rows, index); // one row per image, in order
            if (row.GetProperty("top")[0].GetProperty("index").GetInt32() == labels[index]) hits++;
            rows++;
        }
        return (hits, rows);
    }

    [Fact]
    public void Predict_with_the_exported_fine_tuned_and_online_models_reproduces_summary_json_top1()
    {
        var s = Summary();
        var models = new TrainedModelStore(run.Root);
        Assert.True(models.Contains(ModelHead.FineTune) && models.Contains(ModelHead.Linear), "eval did not keep the fine-tuned and linear models");
        Assert.Equal(s.FineTuneTop1, models.Load(ModelHead.FineTune)!.Top1);
        Assert.Equal(s.LinearTop1, models.Load(ModelHead.Linear)!.Top1);

        var ft = ExportRunner.Run(run.Folder, Path.Combine(run.Root, "deploy", "finetune.onnx"), new ExportOptions(), _ => { });
        Assert.Equal(ModelHead.FineTune, ft.Head);             // the default when eval kept one
        Assert.Equal(s.FineTuneTop1, ft.Metadata.TestTop1);
        string emb = Path.Combine(run.Root, "deploy", "emb.npy");
        var (hits, rows) = PredictTestSplit(ft.Path, Path.Combine(run.Root, "deploy", "ft.json"), "--embeddings", emb);
        Assert.Equal(s.TestImages, rows);
        Assert.InRange(hits, Math.Round(s.FineTuneTop1 * rows) - 1, Math.Round(s.FineTuneTop1 * rows) + 1);

        // The .npy header is NumPy's: magic, version 1.0, a dict with the shape; the body is rows x dim floats.
        var npy = File.ReadAllBytes(emb);
        Assert.Equal(0x93, npy[0]);
        Assert.Equal("NUMPY", System.Text.Encoding.ASCII.GetString(npy, 1, 5));
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(npy.AsSpan(8));
        Assert.Contains($"'shape': ({rows}, {ft.Metadata.EmbeddingDim})", System.Text.Encoding.ASCII.GetString(npy, 10, headerLength));
        Assert.Equal(10 + headerLength + rows * ft.Metadata.EmbeddingDim * 4, npy.Length);
        if (PythonCheck.Numpy.Value)
        {
            var (code, output) = PythonOnnxFactAttribute.Check(
                $"import numpy; a = numpy.load('{emb}'); assert a.shape == ({rows}, {ft.Metadata.EmbeddingDim}) and a.dtype == numpy.float32 and numpy.isfinite(a).all(), (a.shape, a.dtype)");
            Assert.True(code == 0, $"numpy could not read {emb}: {output}");
        }

        var online = ExportRunner.Run(run.Folder, Path.Combine(run.Root, "deploy", "online.onnx"), new ExportOptions(ModelHead.Online), _ => { });
        Assert.Equal(s.OnlineClassifierTop1, online.Metadata.TestTop1);
        var (onlineHits, _) = PredictTestSplit(online.Path, Path.Combine(run.Root, "deploy", "online.json"));
        Assert.InRange(onlineHits, Math.Round(s.OnlineClassifierTop1 * rows) - 1, Math.Round(s.OnlineClassifierTop1 * rows) + 1);
    }

    [Fact]
    public void Metadata_round_trips_and_the_preprocess_prefix_gives_the_same_logits_as_normalised_float_input()
    {
        string plain = Export("plain.onnx", new ExportOptions(ModelHead.Online));
        string prefixed = Export("uint8.onnx", new ExportOptions(ModelHead.Online, Preprocess: true));
        var c = EvaluationContext.Open(run.Folder, "cpu", _ => { });
        c.Factory.Dispose();

        using var session = new InferenceSession(prefixed);
        var meta = DeployMetadata.FromProperties(session.ModelMetadata.CustomMetadataMap, prefixed);
        Assert.Equal(c.Mean, meta.Mean);
        Assert.Equal(c.Std, meta.Std);
        Assert.Equal(FashionMnist.ClassNames, meta.ClassNames);
        Assert.Equal(("uint8", "NHWC", 28, 1), (meta.InputType, meta.InputLayout, meta.InputSize, meta.Channels));
        Assert.Equal(20, meta.CheckpointStep);
        Assert.Equal(c.Manifest.ConfigHash, meta.ConfigHash);
        Assert.Contains("mean", session.ModelMetadata.Description);
        var plainMeta = DeployMetadata.Read(plain);
        Assert.Equal(("float32", "NCHW"), (plainMeta.InputType, plainMeta.InputLayout));
        Assert.Equal(meta with { InputType = "float32", InputLayout = "NCHW" }, plainMeta with { Outputs = meta.Outputs, ClassNames = meta.ClassNames, Mean = meta.Mean, Std = meta.Std });

        // 8 test images: uint8 NHWC into the prefixed graph, (p / 255 - mean) / std as NCHW floats into the plain one.
        const int n = 8, side = 28;
        var pixels = IdxReader.Read(TestImagesIdx).Data.AsSpan(0, n * side * side).ToArray();
        var bytes = new DenseTensor<byte>(pixels, [n, side, side, 1]);
        var floats = new DenseTensor<float>(pixels.Select(p => (float)((p / 255.0 - meta.Mean[0]) / meta.Std[0])).ToArray(), [n, 1, side, side]);
        using var plainSession = new InferenceSession(plain);
        using var a = session.Run([NamedOnnxValue.CreateFromTensor(ArtifactNames.Images, bytes)]);
        using var b = plainSession.Run([NamedOnnxValue.CreateFromTensor(ArtifactNames.Images, floats)]);
        foreach (var output in new[] { ArtifactNames.Logits, ArtifactNames.Embedding })
        {
            var x = a.First(o => o.Name == output).AsTensor<float>().ToArray();
            var y = b.First(o => o.Name == output).AsTensor<float>().ToArray();
            double max = x.Zip(y, (p, q) => Math.Abs(p - q)).Max();
            Assert.True(max <= 1e-5, $"{output}: --preprocess differs from normalised float input by {max:E2}");
        }
    }

    [Fact]
    public void Predict_on_a_folder_with_a_corrupt_and_a_zero_byte_image_predicts_the_rest_and_names_each_bad_file()
    {
        string model = Export("for-folder.onnx", new ExportOptions(ModelHead.Online));
        string folder = Path.Combine(run.Root, "deploy", "images");
        Directory.CreateDirectory(Path.Combine(folder, "nested"));
        var test = IdxReader.Read(TestImagesIdx).Data;
        string[] good = [Path.Combine(folder, "a.png"), Path.Combine(folder, "nested", "b.png"), Path.Combine(folder, "c.jpg")];
        for (int i = 0; i < good.Length; i++)
        {
            using var img = Image.LoadPixelData<L8>(test.AsSpan(i * 784, 784), 28, 28);
            img.Save(good[i]);
        }
        string corrupt = Path.Combine(folder, "corrupt.png"), empty = Path.Combine(folder, "nested", "empty.jpg");
        File.WriteAllBytes(corrupt, File.ReadAllBytes(good[0]).AsSpan(0, 40).ToArray());   // a PNG cut short
        File.WriteAllBytes(empty, []);

        string csv = Path.Combine(run.Root, "deploy", "folder.csv");
        var (code, _, stderr) = SempplProcess.Run("predict", "--model", model, folder, "--top", "3", "--out", csv, "--device", "cpu");
        Assert.True(code == 0, $"semppl predict failed ({code}): {stderr}");
        var lines = File.ReadAllLines(csv);
        Assert.Equal("path,class_1,probability_1,class_2,probability_2,class_3,probability_3", lines[0]);
        Assert.Equal(good.Order(StringComparer.Ordinal), lines.Skip(1).Select(l => l.Split(',')[0]));
        foreach (var l in lines.Skip(1))
        {
            var f = l.Split(',');
            Assert.Contains(f[1], FashionMnist.ClassNames);
            var p = new[] { f[2], f[4], f[6] }.Select(double.Parse).ToArray();
            Assert.True(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1 && p[2] > 0, l);
        }
        Assert.Contains($"'{corrupt}'", stderr);
        Assert.Contains($"'{empty}'", stderr);
        Assert.Contains("zero-byte", stderr);
        Assert.Contains("2 unreadable image(s) skipped", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void Predict_with_a_model_without_SemPPL_metadata_or_a_missing_input_says_so_in_one_line()
    {
        string model = Export("for-errors.onnx", new ExportOptions(ModelHead.Online));
        string foreign = Path.Combine(run.Folder.Artifacts, ArtifactNames.EvalFile);   // an ONNX file semppl export did not write
        var (code, _, stderr) = SempplProcess.Run("predict", "--model", foreign, TestImagesIdx, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("has no SemPPL metadata", stderr);
        Assert.DoesNotContain("   at ", stderr);

        string missing = Path.Combine(run.Root, "deploy", "no-such-folder");
        (code, _, stderr) = SempplProcess.Run("predict", "--model", model, missing, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains($"'{missing}' is neither a file nor a folder", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [PythonOnnxFact]
    public void Every_export_form_passes_the_onnx_checker_and_the_baseline_exports_by_default()
    {
        Summary();
        var paths = new List<string>
        {
            Export("c-finetune.onnx", new ExportOptions(ModelHead.FineTune)),
            Export("c-linear.onnx", new ExportOptions(ModelHead.Linear)),
            Export("c-linear-uint8.onnx", new ExportOptions(ModelHead.Linear, Preprocess: true)),
            Export("c-online.onnx", new ExportOptions(ModelHead.Online)),
            Export("c-encoder.onnx", new ExportOptions(ModelHead.Encoder)),
            Export("c-finetune-embedding.onnx", new ExportOptions(ModelHead.FineTune, IncludeClassifier: false, Preprocess: true)),
        };
        Assert.Equal(new[] { ArtifactNames.Embedding }, DeployMetadata.Read(paths[4]).Outputs);
        Assert.Null(DeployMetadata.Read(paths[4]).TestTop1);
        Assert.Equal(Summary().LinearTop1, DeployMetadata.Read(paths[1]).TestTop1);

        // The supervised-only arm in its own run folder: exported by default, with its own top-1.
        using var baseline = new TempRun("baseline");
        baseline.CopyArtifactsFrom(run.Folder);
        RunSetup.Prepare(TinyConfig.Create(), baseline.Folder, resume: false, _ => { });
        var b = SupervisedBaseline.Run(baseline.Folder, null, steps: 3, _ => { });
        var r = ExportRunner.Run(baseline.Folder, Path.Combine(run.Root, "deploy", "c-supervised.onnx"), new ExportOptions(), _ => { });
        Assert.Equal(ModelHead.Supervised, r.Head);
        Assert.Equal(b.Top1, r.Metadata.TestTop1);
        paths.Add(r.Path);

        string list = string.Join(", ", paths.Select(p => $"'{p}'"));
        var (code, output) = PythonOnnxFactAttribute.Check($"import onnx\nfor p in [{list}]: onnx.checker.check_model(onnx.load(p), full_check=True)");
        Assert.True(code == 0, $"onnx.checker rejected an export: {output}");
    }
}

internal static class PythonCheck
{
    public static readonly Lazy<bool> Numpy = new(() => PythonOnnxFactAttribute.Check("import numpy").Code == 0);
}

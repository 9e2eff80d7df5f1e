using System.Globalization;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Export;

/// <summary>
/// A network trained by evaluation or the baseline, kept for export: every weight eval.onnx (or, for the linear
/// probe, eval.onnx plus probe.weight/probe.bias) needs, and its test accuracy.
/// </summary>
public sealed record TrainedModel(ModelHead Head, IReadOnlyDictionary<string, HostTensor> Weights, double Top1, double Top5,
    int TestImages, long CheckpointStep, string ConfigHash);

/// <summary>
/// The <c>models/</c> folder of a run: one <see cref="TensorFile"/> per kept head (<c>finetune.spt</c>,
/// <c>linear.spt</c>, <c>supervised.spt</c>), each written atomically (temp file, fsync, rename), so a crash
/// leaves the previous file or the new one, never a mix.
/// </summary>
public sealed class TrainedModelStore(string runFolder)
{
    public const string FolderName = "models";
    private const string HeadKey = "head", Top1Key = "top1", Top5Key = "top5", TestImagesKey = "testImages",
        StepKey = "checkpointStep", HashKey = "configHash";

    public string Folder { get; } = Path.Combine(Path.GetFullPath(runFolder), FolderName);

    public string PathFor(ModelHead head) => Path.Combine(Folder, head.Name() + ".spt");

    public bool Contains(ModelHead head) => File.Exists(PathFor(head));

    public string Save(TrainedModel m)
    {
        if (m.Head is ModelHead.Online or ModelHead.Encoder)
            throw new ArgumentException($"the {m.Head.Name()} head lives in the checkpoints, not in {Folder}");
        var meta = new Dictionary<string, string>
        {
            [HeadKey] = m.Head.Name(),
            [Top1Key] = m.Top1.ToString("R", CultureInfo.InvariantCulture),
            [Top5Key] = m.Top5.ToString("R", CultureInfo.InvariantCulture),
            [TestImagesKey] = m.TestImages.ToString(CultureInfo.InvariantCulture),
            [StepKey] = m.CheckpointStep.ToString(CultureInfo.InvariantCulture),
            [HashKey] = m.ConfigHash,
        };
        string path = PathFor(m.Head);
        TensorFile.Write(path, m.Weights.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList(), meta);
        return path;
    }

    /// <summary>The kept model of <paramref name="head"/>, or null when there is none. A damaged file throws InvalidDataException naming it.</summary>
    public TrainedModel? Load(ModelHead head)
    {
        string path = PathFor(head);
        if (!File.Exists(path)) return null;
        var f = TensorFile.Read(path);
        string Get(string key) => f.Metadata.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"'{path}' has no '{key}' entry; it was not written by semppl eval/baseline");
        if (Get(HeadKey) != head.Name()) throw new InvalidDataException($"'{path}' holds the {Get(HeadKey)} head, not {head.Name()}");
        return new TrainedModel(head, f.Tensors.ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal),
            double.Parse(Get(Top1Key), CultureInfo.InvariantCulture), double.Parse(Get(Top5Key), CultureInfo.InvariantCulture),
            int.Parse(Get(TestImagesKey), CultureInfo.InvariantCulture), long.Parse(Get(StepKey), CultureInfo.InvariantCulture), Get(HashKey));
    }
}

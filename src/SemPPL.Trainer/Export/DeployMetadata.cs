using System.Globalization;
using System.Text;
using System.Text.Json;
using Onnx;

namespace SemPPL.Trainer.Export;

/// <summary>
/// What an exported model says about itself in its ONNX <c>metadata_props</c>: how to feed it (layout, size,
/// channels, pixel scale, mean/std, the evaluation resize and crop), what it answers (class names, outputs) and
/// where it came from (head, test top-1, checkpoint step, config hash, tool version). Every value is a string;
/// lists are JSON arrays. <c>semppl predict</c> reads nothing else, and neither need other runtimes.
/// </summary>
public sealed record DeployMetadata
{
    public const string Crop = "center-square";
    public const string Resize = "bicubic";
    /// <summary>A pixel byte p becomes p * PixelScale before (x - mean) / std.</summary>
    public const double PixelScale = 1.0 / 255;

    public required string Head { get; init; }
    public required string InputName { get; init; }
    /// <summary>NCHW (float input, normalised by the client) or NHWC (uint8 input, normalised in the graph).</summary>
    public required string InputLayout { get; init; }
    /// <summary>float32 or uint8.</summary>
    public required string InputType { get; init; }
    public required int InputSize { get; init; }
    public required int Channels { get; init; }
    public required double[] Mean { get; init; }
    public required double[] Std { get; init; }
    public required IReadOnlyList<string> ClassNames { get; init; }
    public required IReadOnlyList<string> Outputs { get; init; }
    public required long EmbeddingDim { get; init; }
    /// <summary>Test top-1 of this head, when it was measured.</summary>
    public double? TestTop1 { get; init; }
    public int? TestImages { get; init; }
    public required long CheckpointStep { get; init; }
    public required string ConfigHash { get; init; }
    public required string ToolVersion { get; init; }
    public required string Dataset { get; init; }

    public bool NormalisedInGraph => InputType == "uint8";

    private static readonly string[] Keys =
    [
        "semppl.format", "head", "input_name", "input_layout", "input_type", "input_height", "input_width", "channels",
        "pixel_scale", "mean", "std", "resize", "crop", "normalised_in_graph", "class_names", "outputs", "embedding_dim",
        "checkpoint_step", "config_hash", "tool_version", "dataset",
    ];

    public Dictionary<string, string> ToProperties()
    {
        var p = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["semppl.format"] = "1",
            ["head"] = Head,
            ["input_name"] = InputName,
            ["input_layout"] = InputLayout,
            ["input_type"] = InputType,
            ["input_height"] = Text(InputSize),
            ["input_width"] = Text(InputSize),
            ["channels"] = Text(Channels),
            ["pixel_scale"] = Text(PixelScale),
            ["mean"] = JsonSerializer.Serialize(Mean),
            ["std"] = JsonSerializer.Serialize(Std),
            ["resize"] = Resize,
            ["crop"] = Crop,
            ["normalised_in_graph"] = NormalisedInGraph ? "true" : "false",
            ["class_names"] = JsonSerializer.Serialize(ClassNames),
            ["outputs"] = string.Join(",", Outputs),
            ["embedding_dim"] = Text(EmbeddingDim),
            ["checkpoint_step"] = Text(CheckpointStep),
            ["config_hash"] = ConfigHash,
            ["tool_version"] = ToolVersion,
            ["dataset"] = Dataset,
        };
        if (TestTop1 is { } t) p["test_top1"] = Text(t);
        if (TestImages is { } n) p["test_images"] = Text(n);
        return p;
    }

    /// <summary>Reads the metadata back (from ONNX Runtime's custom metadata map or the model file's metadata_props).</summary>
    public static DeployMetadata FromProperties(IReadOnlyDictionary<string, string> p, string source)
    {
        var missing = Keys.Where(k => !p.ContainsKey(k)).ToList();
        if (missing.Count == Keys.Length)
            throw new InvalidDataException($"'{source}' has no SemPPL metadata; export the model with `semppl export`");
        if (missing.Count > 0)
            throw new InvalidDataException($"'{source}': SemPPL metadata without {string.Join(", ", missing)}");
        try
        {
            int height = int.Parse(p["input_height"], CultureInfo.InvariantCulture), width = int.Parse(p["input_width"], CultureInfo.InvariantCulture);
            if (height != width) throw new InvalidDataException($"'{source}': input {height}x{width} is not square");
            return new DeployMetadata
            {
                Head = p["head"], InputName = p["input_name"], InputLayout = p["input_layout"], InputType = p["input_type"],
                InputSize = height, Channels = int.Parse(p["channels"], CultureInfo.InvariantCulture),
                Mean = JsonSerializer.Deserialize<double[]>(p["mean"])!, Std = JsonSerializer.Deserialize<double[]>(p["std"])!,
                ClassNames = JsonSerializer.Deserialize<string[]>(p["class_names"])!,
                Outputs = p["outputs"].Split(',', StringSplitOptions.RemoveEmptyEntries),
                EmbeddingDim = long.Parse(p["embedding_dim"], CultureInfo.InvariantCulture),
                TestTop1 = p.TryGetValue("test_top1", out var t) ? double.Parse(t, CultureInfo.InvariantCulture) : null,
                TestImages = p.TryGetValue("test_images", out var n) ? int.Parse(n, CultureInfo.InvariantCulture) : null,
                CheckpointStep = long.Parse(p["checkpoint_step"], CultureInfo.InvariantCulture),
                ConfigHash = p["config_hash"], ToolVersion = p["tool_version"], Dataset = p["dataset"],
            };
        }
        catch (Exception e) when (e is FormatException or JsonException or OverflowException)
        {
            throw new InvalidDataException($"'{source}': unreadable SemPPL metadata ({e.Message})");
        }
    }

    /// <summary>Reads the metadata of an ONNX model file without creating a session.</summary>
    public static DeployMetadata Read(string modelPath)
    {
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"model '{modelPath}' does not exist");
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath)); }
        catch (Google.Protobuf.InvalidProtocolBufferException e) { throw new InvalidDataException($"'{modelPath}' is not an ONNX model ({e.Message})"); }
        return FromProperties(model.MetadataProps.ToDictionary(e => e.Key, e => e.Value), modelPath);
    }

    /// <summary>Writes the metadata and a readable doc string into <paramref name="model"/>.</summary>
    public void WriteTo(ModelProto model)
    {
        model.MetadataProps.Clear();
        foreach (var (k, v) in ToProperties().OrderBy(kv => kv.Key, StringComparer.Ordinal))
            model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        model.DocString = DocString();
    }

    public string DocString()
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"SemPPL model ({Head}) exported by {ToolVersion} from checkpoint step {CheckpointStep} (config hash {ConfigHash[..Math.Min(12, ConfigHash.Length)]}) on {Dataset}");
        b.Append(TestTop1 is { } t ? string.Create(CultureInfo.InvariantCulture, $"; test top-1 {t:P2} on {TestImages} images.\n") : ".\n");
        string mean = string.Join(", ", Mean.Select(m => Text(m))), std = string.Join(", ", Std.Select(s => Text(s)));
        b.Append(CultureInfo.InvariantCulture, $"Input '{InputName}': {InputType} {InputLayout} [N, ");
        b.Append(InputLayout == "NHWC" ? $"{InputSize}, {InputSize}, {Channels}]" : $"{Channels}, {InputSize}, {InputSize}]");
        b.Append(Channels == 1 ? " (grey)" : " (RGB)").Append(".\n");
        b.Append(CultureInfo.InvariantCulture, $"Preprocessing: crop the centre square of the image's shorter side, resize it to {InputSize}x{InputSize} (bicubic, a = -0.5, antialiased as PIL)");
        b.Append(NormalisedInGraph
            ? string.Create(CultureInfo.InvariantCulture, $", pass the pixel bytes; the graph computes (p / 255 - mean) / std with mean [{mean}], std [{std}].\n")
            : string.Create(CultureInfo.InvariantCulture, $", then x = (p / 255 - mean) / std per channel with mean [{mean}], std [{std}].\n"));
        b.Append(CultureInfo.InvariantCulture, $"Outputs: {string.Join(", ", Outputs)} (embedding [N, {EmbeddingDim}]");
        b.Append(Outputs.Contains("logits") ? $"; logits [N, {ClassNames.Count}], softmax gives class probabilities)" : ")");
        b.Append(CultureInfo.InvariantCulture, $".\nClasses: {string.Join(", ", ClassNames.Take(20))}{(ClassNames.Count > 20 ? ", ..." : "")}.");
        return b.ToString();
    }

    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private static string Text(long v) => v.ToString(CultureInfo.InvariantCulture);
}

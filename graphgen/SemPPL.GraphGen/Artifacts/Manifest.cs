using System.Text.Json;
using System.Text.Json.Serialization;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>One graph of the set: its file, what it does, and its contract (every input and output with its kind).</summary>
public sealed record GraphEntry(string File, GraphRole Role, IReadOnlyList<GraphIo> Inputs, IReadOnlyList<GraphIo> Outputs, int Nodes)
{
    public static GraphEntry Of(string file, GraphRole role, BuiltGraph built) =>
        new(file, role, built.Contract.Inputs, built.Contract.Outputs, built.Graph.Nodes.Count);

    [JsonIgnore]
    public GraphContract Contract => new(Inputs, Outputs);
}

/// <summary>Where a state tensor's value at step 0 comes from.</summary>
public enum StateInit
{
    /// <summary>The tensor of the same name in the initial-weights file.</summary>
    InitialWeights,
    /// <summary>A copy of the state tensor <see cref="StateEntry.CopyOf"/> (the target network starts as the online one).</summary>
    CopyOf,
    /// <summary>Zeros (optimizer slots, the queue).</summary>
    Zeros,
}

/// <summary>One state tensor: kept on the device between steps, read and written by the step's graphs, saved in checkpoints.</summary>
public sealed record StateEntry(string Name, string DType, long[] Shape, StateInit Init)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CopyOf { get; init; }

    [JsonIgnore]
    public DType ElementType => Enum.Parse<DType>(DType, ignoreCase: true);
}

public sealed record ParameterEntry(string Name, long[] Shape, string Kind, string Head, bool ExcludeFromWeightDecay, bool ExcludeFromLars, long Count);

public sealed record BufferEntry(string Name, long[] Shape, float InitialValue);

/// <summary>The network an artifact set was built for (config model.backbone / stem / width), for readers of the set.</summary>
public sealed record ModelEntry(string Backbone, string Stem, double Width);

public sealed record ParameterCountsEntry(long Encoder, long Projector, long Predictor, long Classifier, long Total);

/// <summary>manifest.json: everything the trainer needs to bind the artifact set without reading the graphs.</summary>
public sealed record Manifest
{
    /// <summary>1: names were the contract. 2: every graph input and output has a kind, the state tensors and the step's
    /// graph order are listed (the trainer binds by these alone).</summary>
    public const int CurrentFormat = 2;
    public int Format { get; init; } = CurrentFormat;
    public required string ToolVersion { get; init; }
    public required int Opset { get; init; }
    public required long IrVersion { get; init; }
    public required string ConfigHash { get; init; }
    public required int Seed { get; init; }
    public required int LabelledImages { get; init; }
    public required ArtifactShapes Shapes { get; init; }
    public required SortedDictionary<string, GraphEntry> Graphs { get; init; }
    /// <summary>Keys of <see cref="Graphs"/> in the order one training step runs them.</summary>
    public required IReadOnlyList<string> Step { get; init; }
    /// <summary>Every state tensor of the step, in checkpoint order.</summary>
    public required IReadOnlyList<StateEntry> State { get; init; }
    public required IReadOnlyList<ParameterEntry> Parameters { get; init; }
    public required IReadOnlyList<BufferEntry> Buffers { get; init; }
    public required ParameterCountsEntry ParameterCounts { get; init; }
    /// <summary>Absent in sets written before graphgen 0.2.0.</summary>
    public ModelEntry? Model { get; init; }
    public required string InitialWeights { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>The graph of a role (each role occurs once in a set).</summary>
    public GraphEntry Graph(GraphRole role) => Graphs.Values.FirstOrDefault(g => g.Role == role)
        ?? throw new InvalidDataException($"the artifact set has no {role} graph; regenerate it");

    /// <summary>The step's graphs in run order, with their keys.</summary>
    public IReadOnlyList<(string Key, GraphEntry Graph)> StepGraphs() =>
        Step.Select(k => (k, Graphs.TryGetValue(k, out var g) ? g : throw new InvalidDataException($"manifest step names graph '{k}', which it does not list"))).ToList();

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a manifest of the current format; any other format fails with a message to regenerate the set.</summary>
    public static Manifest Read(string path)
    {
        string json = File.ReadAllText(path);
        int format = FormatOf(json, path);
        if (format != CurrentFormat)
            throw new InvalidDataException($"{path}: artifact set format {format}, this version reads format {CurrentFormat}; " +
                                           "regenerate the set (semppl train does it by itself; or run graphgen --config <yaml>)");
        try
        {
            return JsonSerializer.Deserialize<Manifest>(json, JsonOptions) ?? throw new InvalidDataException($"{path}: empty manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid artifact manifest ({e.Message})", e);
        }
    }

    /// <summary>The <c>format</c> field alone, so a set of another format is recognised before its fields are read.</summary>
    public static int FormatOf(string json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.TryGetProperty("format", out var f) && f.TryGetInt32(out int v) ? v : 0;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid artifact manifest ({e.Message})", e);
        }
    }
}

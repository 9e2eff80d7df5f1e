using System.Text.Json;
using System.Text.Json.Serialization;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Artifacts;

public sealed record GraphIo(string Name, string DType, long[] Shape)
{
    public static GraphIo Of(Value v) => new(v.Name, v.Type.ToString().ToLowerInvariant(), v.Shape);
}

public sealed record GraphEntry(string File, IReadOnlyList<GraphIo> Inputs, IReadOnlyList<GraphIo> Outputs, int Nodes)
{
    public static GraphEntry Of(string file, GraphBuilder g) =>
        new(file, g.Inputs.Select(GraphIo.Of).ToList(), g.Outputs.Select(GraphIo.Of).ToList(), g.Nodes.Count);
}

public sealed record ParameterEntry(string Name, long[] Shape, string Kind, string Head, bool ExcludeFromWeightDecay, bool ExcludeFromLars, long Count);

public sealed record BufferEntry(string Name, long[] Shape, float InitialValue);

/// <summary>The network an artifact set was built for (config model.backbone / stem / width), for readers of the set.</summary>
public sealed record ModelEntry(string Backbone, string Stem, double Width);

public sealed record ParameterCountsEntry(long Encoder, long Projector, long Predictor, long Classifier, long Total);

/// <summary>manifest.json: everything the trainer needs to bind the artifact set without reading the graphs.</summary>
public sealed record Manifest
{
    public const int CurrentFormat = 1;
    public int Format { get; init; } = CurrentFormat;
    public required string ToolVersion { get; init; }
    public required int Opset { get; init; }
    public required long IrVersion { get; init; }
    public required string ConfigHash { get; init; }
    public required int Seed { get; init; }
    public required int LabelledImages { get; init; }
    public required ArtifactShapes Shapes { get; init; }
    public required SortedDictionary<string, GraphEntry> Graphs { get; init; }
    public required IReadOnlyList<ParameterEntry> Parameters { get; init; }
    public required IReadOnlyList<BufferEntry> Buffers { get; init; }
    /// <summary>Names (without the online./target. prefix) that ema.onnx moves: encoder + projector parameters and buffers.</summary>
    public required IReadOnlyList<string> TargetTensors { get; init; }
    public required ParameterCountsEntry ParameterCounts { get; init; }
    /// <summary>Absent in sets written before graphgen 0.2.0.</summary>
    public ModelEntry? Model { get; init; }
    public required string InitialWeights { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static Manifest Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), JsonOptions)
                   ?? throw new InvalidDataException($"{path}: empty manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid artifact manifest ({e.Message})", e);
        }
    }
}

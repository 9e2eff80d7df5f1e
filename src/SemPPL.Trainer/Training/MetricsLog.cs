using System.Text.Json;

namespace SemPPL.Trainer.Training;

/// <summary>One logged step of metrics.jsonl.</summary>
public sealed record StepMetrics
{
    public long Step { get; init; }
    public double Epoch { get; init; }
    public double Lr { get; init; }
    public double Ema { get; init; }
    public double Loss { get; init; }
    public double LossAugmentation { get; init; }
    public double LossSemanticPositive { get; init; }
    public double LossInvariance { get; init; }
    public double LossClassifier { get; init; }
    public double ClassifierAccuracy { get; init; }
    /// <summary>Share of unlabelled images whose pseudo-label equals the true label (null when unknown).</summary>
    public double? PseudoLabelAccuracy { get; init; }
    public double ImagesPerSecond { get; init; }
}

/// <summary>Appends one JSON object a line; flushed each write so a crash loses nothing logged.</summary>
public sealed class MetricsLog : IDisposable
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
    private readonly StreamWriter _writer;

    public MetricsLog(string path, long truncateAfterStep = long.MaxValue)
    {
        // On resume, drop lines logged after the checkpoint so the file matches the resumed run.
        var kept = File.Exists(path)
            ? File.ReadLines(path).Where(l => l.Length > 0 && Read(l) is { } m && m.Step <= truncateAfterStep).ToList()
            : [];
        File.WriteAllLines(path, kept);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public void Write(StepMetrics m) => _writer.WriteLine(JsonSerializer.Serialize(m, Options));

    public static StepMetrics? Read(string line)
    {
        try { return JsonSerializer.Deserialize<StepMetrics>(line, Options); }
        catch (JsonException) { return null; }
    }

    public static IReadOnlyList<StepMetrics> ReadAll(string path) =>
        File.ReadLines(path).Select(Read).OfType<StepMetrics>().ToList();

    public void Dispose() => _writer.Dispose();
}

using System.Collections.Concurrent;

namespace SemPPL.Data.Datasets;

/// <summary>One skipped input file and why.</summary>
public sealed record SkippedFile(string Path, string Reason);

/// <summary>
/// Collects skipped (bad) inputs for the run summary and raises exactly one warning per file.
/// Library code never writes to the console; the host subscribes to <see cref="Warning"/>.
/// </summary>
public sealed class DataDiagnostics
{
    private readonly ConcurrentDictionary<string, SkippedFile> _skipped = new(StringComparer.Ordinal);
    private long _replacements;

    /// <summary>Called once per skipped file with a message naming it.</summary>
    public event Action<string>? Warning;

    public int SkippedCount => _skipped.Count;
    public IReadOnlyList<SkippedFile> SkippedFiles => _skipped.Values.OrderBy(s => s.Path, StringComparer.Ordinal).ToList();
    /// <summary>Batch slots filled with a substitute image because their own failed to decode.</summary>
    public long Replacements => Interlocked.Read(ref _replacements);

    /// <summary>Records a skip; returns true (and warns) the first time this file is seen.</summary>
    public bool Skip(string path, string reason)
    {
        if (!_skipped.TryAdd(path, new SkippedFile(path, reason))) return false;
        Warning?.Invoke($"skipping image '{path}': {reason}");
        return true;
    }

    internal void CountReplacement() => Interlocked.Increment(ref _replacements);

    public string Summary() => SkippedCount == 0
        ? "data: no files skipped"
        : $"data: {SkippedCount} file(s) skipped, {Replacements} batch slot(s) replaced: " +
          string.Join("; ", SkippedFiles.Take(10).Select(s => $"{s.Path} ({s.Reason})")) + (SkippedCount > 10 ? "; ..." : "");
}

using System.Globalization;
using System.Text.RegularExpressions;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Checkpoints;

/// <summary>A checkpoint read back from disk.</summary>
public sealed class Checkpoint(long step, string path, IReadOnlyList<(string Name, HostTensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
{
    public long Step { get; } = step;
    public string Path { get; } = path;
    public IReadOnlyList<(string Name, HostTensor Tensor)> Tensors { get; } = tensors;

    /// <summary>String map: step, RNG states, data position, config hash, artifact hash, ... (JSON text where structured).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;

    public HostTensor this[string name] =>
        Tensors.FirstOrDefault(t => t.Name == name).Tensor ?? throw new KeyNotFoundException($"checkpoint '{Path}' has no tensor named '{name}'");
}

/// <summary>
/// The <c>checkpoints/</c> folder of a run. <see cref="Save"/> writes <c>ckpt-&lt;step:D8&gt;.spt</c> as a
/// <see cref="TensorFile"/> (atomically: temp file, flush, rename), then keeps only the newest
/// <see cref="KeepLast"/>. <see cref="LoadLatest"/> returns the newest checkpoint that reads back with every
/// CRC intact, skipping (with one warning each) files that are corrupt or cut short. Only names matching
/// <c>ckpt-NNNNNNNN.spt</c> count as checkpoints; temporary files of an interrupted write never do and are
/// removed by the next <see cref="Save"/>.
/// </summary>
public sealed partial class CheckpointStore
{
    public const string FolderName = "checkpoints";
    public const string StepKey = "step";

    private readonly Action<string> _warn;

    /// <param name="runFolder">The run's folder; checkpoints go to its <c>checkpoints/</c> subfolder.</param>
    /// <param name="keepLast">How many checkpoints to keep (at least 1).</param>
    /// <param name="warn">Receives one line per skipped checkpoint, without a "warning:" prefix (default: standard error, with it).</param>
    public CheckpointStore(string runFolder, int keepLast = 3, Action<string>? warn = null)
    {
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "keep at least one checkpoint");
        Folder = Path.Combine(Path.GetFullPath(runFolder), FolderName);
        KeepLast = keepLast;
        _warn = warn ?? (line => Console.Error.WriteLine($"warning: {line}"));
    }

    public string Folder { get; }
    public int KeepLast { get; }

    public static string FileName(long step) => $"ckpt-{step.ToString("D8", CultureInfo.InvariantCulture)}.spt";

    public string PathFor(long step) => Path.Combine(Folder, FileName(step));

    /// <summary>
    /// Writes the checkpoint of <paramref name="step"/> and prunes to the newest <see cref="KeepLast"/>.
    /// The metadata gain <c>step</c> (it must agree when given). Returns the file's path.
    /// </summary>
    public string Save(long step, IReadOnlyList<(string Name, HostTensor Tensor)> tensors,
                       IReadOnlyDictionary<string, string>? metadata = null, TensorFileWriteOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        string stepText = step.ToString(CultureInfo.InvariantCulture);
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        if (meta.TryGetValue(StepKey, out var given) && given != stepText)
            throw new ArgumentException($"checkpoint of step {step}: metadata '{StepKey}' says '{given}'");
        meta[StepKey] = stepText;

        string path = PathFor(step);
        try
        {
            Directory.CreateDirectory(Folder);
            RemoveTemporaryFiles();
            TensorFile.Write(path, tensors, meta, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Disk full, no permission: the message names the file and says what is safe.
            throw new IOException($"cannot write checkpoint {path}: {e.Message}; the checkpoints written before it are intact", e);
        }
        Prune();
        return path;
    }

    /// <summary>Checkpoint files present, oldest first (by step), without reading them.</summary>
    public IReadOnlyList<(long Step, string Path)> List()
    {
        if (!Directory.Exists(Folder)) return [];
        var list = new List<(long, string)>();
        foreach (var f in Directory.EnumerateFiles(Folder))
        {
            var m = NamePattern().Match(Path.GetFileName(f));
            if (m.Success) list.Add((long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), f));
        }
        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }

    /// <summary>The newest checkpoint that reads back cleanly, or null when there is none.</summary>
    public Checkpoint? LoadLatest()
    {
        foreach (var (step, path) in List().Reverse())
        {
            try
            {
                var c = TensorFile.Read(path);
                if (c.Metadata.TryGetValue(StepKey, out var s) && s != step.ToString(CultureInfo.InvariantCulture))
                    throw new InvalidDataException($"checkpoint '{path}' says step {s}, its name step {step}");
                return new Checkpoint(step, path, c.Tensors, c.Metadata);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                _warn($"skipping checkpoint '{path}': {e.Message}");
            }
        }
        return null;
    }

    private void Prune()
    {
        var all = List();
        for (int i = 0; i < all.Count - KeepLast; i++)
        {
            try { File.Delete(all[i].Path); }
            catch (IOException e) { _warn($"could not remove old checkpoint '{all[i].Path}': {e.Message}"); }
        }
    }

    /// <summary>Removes leftovers of writes that were interrupted (a run has one writer: the trainer).</summary>
    private void RemoveTemporaryFiles()
    {
        foreach (var f in Directory.EnumerateFiles(Folder))
        {
            if (!TensorFile.IsTemporaryFile(Path.GetFileName(f))) continue;
            try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    [GeneratedRegex(@"^ckpt-(\d{8,})\.spt$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}

using System.Security.Cryptography;
using System.IO.Hashing;
using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// ONNX Runtime's optimised form of each graph, kept on disk so that the next session of the same graph (a resume,
/// an evaluation, a second run) loads it with optimisation off instead of optimising again (ResNet-50's ImageNet
/// train.onnx: minutes -> seconds).
/// <para>An entry is a folder named by the SHA-256 of its key text (<see cref="SessionFactory"/> writes the key: model
/// bytes, ONNX Runtime version, device, CPU features and NCHWc block, session options, lowering), holding
/// <c>model.onnx</c>, <c>model.onnx.data</c> (its large constants: protobuf files stop at 2 GiB), <c>key.txt</c> and
/// <c>files.xxh128</c>. A build writes into a temporary folder and renames it into place only when complete, so a
/// crash half-way leaves no entry; an entry whose key text or checksums do not match, or that ORT cannot load, is
/// deleted and built again.</para>
/// <para>Optimised models are specific to the hardware and the ORT build (ORT warns so when it saves one at level
/// ALL: its NCHWc rewrite bakes in the CPU's block size), hence the key.</para>
/// </summary>
public sealed class OptimizedModelCache(string directory)
{
    /// <summary>Environment variable: a folder for the cache, or <c>off</c>. Unset: <see cref="DefaultDirectory"/>.</summary>
    public const string Variable = "SEMPPL_ORT_CACHE";

    private const string ModelFile = "model.onnx", DataFile = "model.onnx.data", KeyFile = "key.txt", ChecksumFile = "files.xxh128";
    private const string TempMarker = ".tmp-";
    private static readonly TimeSpan StaleBuild = TimeSpan.FromDays(1);

    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>Sessions opened from an entry / built (and stored) / built again because the entry was unusable.</summary>
    public int Hits { get; private set; }
    public int Builds { get; private set; }
    public int Rebuilds { get; private set; }

    /// <summary>Time spent checking entries (key text and checksums) before loading them.</summary>
    public TimeSpan CheckTime { get; private set; }

    /// <summary>$XDG_CACHE_HOME/semppl/ort (~/.cache/semppl/ort) on Linux and macOS; %LOCALAPPDATA%\semppl\ort on Windows.</summary>
    public static string DefaultDirectory()
    {
        string root = OperatingSystem.IsWindows()
            ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "semppl", "ort");
    }

    /// <summary>The cache folder <see cref="Variable"/> asks for: null for <c>off</c>, the default when unset.</summary>
    public static string? DirectoryFromEnvironment() => Environment.GetEnvironmentVariable(Variable)?.Trim() switch
    {
        null or "" => DefaultDirectory(),
        var v when v.Equals("off", StringComparison.OrdinalIgnoreCase) => null,
        var v => v,
    };

    /// <summary>The entry folder a key maps to (it may not exist).</summary>
    public string EntryPath(string key) => Path.Combine(Directory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32]);

    /// <summary>A session on the stored optimised model of <paramref name="key"/>, opened by <paramref name="load"/>
    /// (given the model's path); null when there is no usable entry. An unusable entry is deleted (and reported
    /// through <paramref name="warn"/>), so the caller's <see cref="Build"/> replaces it.</summary>
    public InferenceSession? TryOpen(string key, Func<string, InferenceSession> load, Action<string> warn)
    {
        string entry = EntryPath(key);
        if (!System.IO.Directory.Exists(entry)) return null;
        string? problem;
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        try { problem = Verify(entry, key); }
        catch (IOException e) { problem = e.Message; }
        catch (UnauthorizedAccessException e) { problem = e.Message; }
        CheckTime += System.Diagnostics.Stopwatch.GetElapsedTime(t0);
        if (problem is null)
        {
            try
            {
                var session = load(Path.Combine(entry, ModelFile));
                Hits++;
                return session;
            }
            catch (OnnxRuntimeException e) { problem = $"ONNX Runtime cannot load it: {FirstLine(e.Message)}"; }
        }
        warn($"optimised-model cache: entry {entry} is unusable ({problem}); building it again");
        TryDelete(entry);
        Rebuilds++;
        return null;
    }

    /// <summary>Creates the session with <paramref name="buildSaving"/>, which must have ORT save the optimised model
    /// to the path it is given (<see cref="SaveOptimizedModel"/>), and stores the entry. When the cache folder cannot
    /// be written, <paramref name="buildPlain"/> gives the session without storing it (reported through
    /// <paramref name="warn"/>).</summary>
    public InferenceSession Build(string key, Func<string, InferenceSession> buildSaving, Func<InferenceSession> buildPlain, Action<string> warn)
    {
        string entry = EntryPath(key);
        string temp = $"{entry}{TempMarker}{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            System.IO.Directory.CreateDirectory(temp);
            RemoveStaleBuilds();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn($"optimised-model cache: cannot write {Directory} ({e.Message}); the graph is optimised without caching");
            return buildPlain();
        }

        InferenceSession session;
        try { session = buildSaving(Path.Combine(temp, ModelFile)); }
        catch (OnnxRuntimeException)
        {
            TryDelete(temp);
            return buildPlain(); // saving failed (disk full, ...) or the model is bad: then this throws ORT's own message
        }
        try
        {
            File.WriteAllText(Path.Combine(temp, KeyFile), key);
            File.WriteAllText(Path.Combine(temp, ChecksumFile), Checksums(temp));
            if (System.IO.Directory.Exists(entry)) TryDelete(temp); // another process stored it meanwhile
            else System.IO.Directory.Move(temp, entry);
            Builds++;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            if (!System.IO.Directory.Exists(entry)) warn($"optimised-model cache: could not store {entry} ({e.Message})");
        }
        return session;
    }

    /// <summary>Has ORT write the optimised model to <paramref name="modelPath"/>, constants of 1 KiB and more to
    /// <c>model.onnx.data</c> beside it (a training graph's folded index tables can pass protobuf's 2 GiB).</summary>
    public static void SaveOptimizedModel(SessionOptions options, string modelPath)
    {
        options.OptimizedModelFilePath = modelPath;
        // ORT warns on every save that a model optimised at this level is hardware-specific; the cache key holds the
        // device, CPU features and NCHWc block for exactly that reason, so the warning is noise on a user's terminal.
        if (options.LogSeverityLevel < OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR) options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
        options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", DataFile);
        options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
    }

    private static string? Verify(string entry, string key)
    {
        string keyFile = Path.Combine(entry, KeyFile), sums = Path.Combine(entry, ChecksumFile);
        if (!File.Exists(keyFile) || !File.Exists(sums)) return "incomplete";
        if (File.ReadAllText(keyFile) != key) return "its key text differs";
        return File.ReadAllText(sums) == Checksums(entry) ? null : "checksum mismatch";
    }

    private static string Checksums(string folder)
    {
        var text = new StringBuilder();
        foreach (string name in new[] { ModelFile, DataFile })
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            using var stream = File.OpenRead(path);
            var hash = new XxHash128();
            hash.Append(stream);
            text.Append(Convert.ToHexStringLower(hash.GetCurrentHash())).Append("  ").Append(name).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Temporary folders of builds that crashed (any key), left for a day so no running build loses its own.</summary>
    private void RemoveStaleBuilds()
    {
        foreach (var dir in new DirectoryInfo(Directory).EnumerateDirectories($"*{TempMarker}*"))
            if (DateTime.UtcNow - dir.LastWriteTimeUtc > StaleBuild) TryDelete(dir.FullName);
    }

    private static void TryDelete(string folder)
    {
        try { if (System.IO.Directory.Exists(folder)) System.IO.Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static string FirstLine(string s)
    {
        s = s.Trim();
        int i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }
}

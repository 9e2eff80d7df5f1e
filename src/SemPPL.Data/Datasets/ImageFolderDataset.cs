using SixLabors.ImageSharp;

namespace SemPPL.Data.Datasets;

/// <summary>
/// A folder tree with one sub-folder per class (images at any depth below it; directory links followed, each real
/// directory once per class: <see cref="FolderWalk"/>), decoded lazily
/// with ImageSharp (JPEG, PNG, BMP, GIF, WebP, TIFF, ...).
/// Bad files are found in two places: at open time every file's header is read with
/// <c>Image.Identify</c> (content sniffing, so the extension does not matter), and files that are
/// empty, unreadable (no permission), not an image, or over the pixel limit are skipped with one warning; files whose body is
/// corrupt or truncated fail at decode time, where <see cref="TryDecode"/> returns false and the
/// pipeline substitutes another image.
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private readonly string[] _files;
    private readonly int[] _labels;
    private readonly long _maxPixels;
    private readonly DataDiagnostics _diag;
    private static Configuration Config => ImageFileDecoder.Config;

    /// <param name="root">Folder holding one sub-folder per class.</param>
    /// <param name="channels">1 decodes as grey (L8), 3 as RGB.</param>
    /// <param name="classNames">Use this class list (e.g. the training set's for a test folder) instead of the folder names.</param>
    public ImageFolderDataset(string root, int channels, long maxPixels, DataDiagnostics? diagnostics = null,
        IReadOnlyList<string>? classNames = null, string configKey = "data.path", int workers = 0)
    {
        if (channels is not (1 or 3)) throw new DataConfigException($"channels must be 1 or 3, got {channels}.");
        if (string.IsNullOrWhiteSpace(root)) throw new DataConfigException($"{configKey} is empty; give the root folder of the class folders.");
        if (!Directory.Exists(root)) throw new DataConfigException($"{configKey} '{root}' does not exist (expected a folder with one sub-folder per class).");
        Root = System.IO.Path.GetFullPath(root);
        Channels = channels; _maxPixels = maxPixels; _diag = diagnostics ?? new DataDiagnostics();

        var classDirs = Directory.GetDirectories(Root).Select(d => System.IO.Path.GetFileName(d)!)
            .Where(n => !n.StartsWith('.')).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        if (classDirs.Length == 0) throw new DataConfigException($"{configKey} '{Root}' has no class sub-folders (expected <root>/<class>/<image files>).");
        ClassNames = classNames ?? classDirs;
        var classIndex = ClassNames.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i, StringComparer.Ordinal);

        var candidates = new List<(string File, int Label)>();
        foreach (var cls in classDirs)
        {
            if (!classIndex.TryGetValue(cls, out int label))
                throw new DataConfigException($"{configKey} '{Root}': class folder '{cls}' is not one of the training classes ({string.Join(", ", ClassNames.Take(20))}).");
            var dir = System.IO.Path.Combine(Root, cls);
            var files = FolderWalk.Files(dir, (d, reason) => _diag.Skip(d, reason))
                .Where(f => !System.IO.Path.GetFileName(f).StartsWith('.'))
                .OrderBy(f => f, StringComparer.Ordinal);
            foreach (var f in files) candidates.Add((f, label));
        }

        // Header check in parallel: it is I/O plus a few hundred bytes of parsing per file.
        var ok = new bool[candidates.Count];
        Parallel.For(0, candidates.Count, new ParallelOptions { MaxDegreeOfParallelism = workers > 0 ? workers : Environment.ProcessorCount },
            i => ok[i] = CheckHeader(candidates[i].File));

        var perClass = new int[ClassNames.Count];
        var keptFiles = new List<string>(); var keptLabels = new List<int>();
        for (int i = 0; i < candidates.Count; i++)
        {
            if (!ok[i]) continue;
            keptFiles.Add(candidates[i].File); keptLabels.Add(candidates[i].Label); perClass[candidates[i].Label]++;
        }
        foreach (var cls in classDirs)
            if (perClass[classIndex[cls]] == 0)
                throw new DataConfigException($"{configKey} '{Root}': class folder '{cls}' contains no readable images.");
        _files = keptFiles.ToArray(); _labels = keptLabels.ToArray();
        Name = $"folder:{Root}";
    }

    public string Root { get; }
    public string Name { get; }
    public int Count => _files.Length;
    public int NumClasses => ClassNames.Count;
    public int Channels { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public DataDiagnostics Diagnostics => _diag;
    public int GetLabel(int index) => _labels[index];
    public string GetItemName(int index) => System.IO.Path.GetFileName(_files[index]);
    public string GetPath(int index) => _files[index];

    private bool CheckHeader(string file)
    {
        try
        {
            if (new FileInfo(file).Length == 0) return Skip(file, "zero-byte file");
            IImageInfo? info;
            using (var fs = File.OpenRead(file)) info = Image.Identify(Config, fs);
            if (info is null) return Skip(file, "not a recognised image format");
            long px = (long)info.Width * info.Height;
            if (px > _maxPixels) return Skip(file, $"{info.Width}x{info.Height} = {px} pixels exceeds data.max_pixels {_maxPixels} (possible decompression bomb)");
            if (px == 0) return Skip(file, "image has no pixels");
            return true;
        }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException or ImageFormatException or IOException
                                       or UnauthorizedAccessException or NotSupportedException or InvalidDataException or ArgumentException)
        {
            return Skip(file, e.Message);
        }
    }

    private bool Skip(string file, string reason) { _diag.Skip(file, reason); return false; }

    public bool TryDecode(int index, ref byte[] buffer, out int width, out int height, out string? error)
    {
        string file = _files[index];
        if (ImageFileDecoder.TryDecode(file, Channels, _maxPixels, ref buffer, out width, out height, out error)) return true;
        _diag.Skip(file, error!);
        return false;
    }
}

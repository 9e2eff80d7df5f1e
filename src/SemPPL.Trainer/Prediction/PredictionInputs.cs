using SemPPL.Data.Augmentation;
using SemPPL.Data.Datasets;

namespace SemPPL.Trainer.Prediction;

/// <summary>
/// The images `semppl predict` was given, in order: image files, every file below a folder (recursively, sorted,
/// hidden files left out), and each image of an IDX file (named <c>file#index</c>). Decoding is safe from several
/// threads; an image that cannot be read is reported, never thrown.
/// </summary>
public sealed class PredictionInputs
{
    /// <summary>Images larger than this are refused (decompression-bomb guard, as data.max_pixels for training).</summary>
    public const long MaxPixels = 50_000_000;

    private readonly List<(string Name, string? File, IdxReader.IdxArray? Idx, int Index)> _items = [];

    public PredictionInputs(IEnumerable<string> paths)
    {
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                             .Where(f => !Path.GetRelativePath(path, f).Split(Path.DirectorySeparatorChar).Any(p => p.StartsWith('.')))
                             .Order(StringComparer.Ordinal))
                    _items.Add((f, f, null, 0));
            }
            else if (File.Exists(path))
            {
                if (IsIdx(path))
                {
                    var idx = IdxReader.Read(path);
                    if (idx.Dims.Length is not (3 or 4) || (idx.Dims.Length == 4 && idx.Dims[3] is not (1 or 3)))
                        throw new InvalidDataException($"'{path}': an IDX file of images is [N, H, W] or [N, H, W, 1|3], this one is [{string.Join(", ", idx.Dims)}]");
                    for (int i = 0; i < idx.Dims[0]; i++) _items.Add(($"{path}#{i}", null, idx, i));
                }
                else _items.Add((path, path, null, 0));
            }
            else throw new FileNotFoundException($"predict: '{path}' is neither a file nor a folder");
        }
    }

    public int Count => _items.Count;
    public string Name(int i) => _items[i].Name;

    /// <summary>Decodes item <paramref name="i"/> into HWC bytes with <paramref name="channels"/> channels.</summary>
    public bool TryDecode(int i, int channels, ref byte[] buffer, out int width, out int height, out string? error)
    {
        var (_, file, idx, index) = _items[i];
        if (file is not null) return ImageFileDecoder.TryDecode(file, channels, MaxPixels, ref buffer, out width, out height, out error);
        height = idx!.Dims[1]; width = idx.Dims[2];
        int c = idx.Dims.Length == 4 ? idx.Dims[3] : 1, per = width * height * c;
        var src = idx.Data.AsSpan(index * per, per);
        int need = width * height * channels;
        if (buffer.Length < need) buffer = new byte[need];
        if (c == channels) src.CopyTo(buffer);
        else PixelOps.ConvertChannels(src, c, buffer, channels, width * height);
        error = null;
        return true;
    }

    /// <summary>IDX files start with two zero bytes and type 0x08 (unsigned bytes), or are gzip-compressed with a name containing "idx".</summary>
    private static bool IsIdx(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var fs = File.OpenRead(path);
        if (fs.ReadAtLeast(head, 4, throwOnEndOfStream: false) < 4) return false;
        if (head[0] == 0 && head[1] == 0 && head[2] == 0x08 && head[3] is >= 1 and <= 4) return true;
        return head[0] == 0x1F && head[1] == 0x8B && Path.GetFileName(path).Contains("idx", StringComparison.OrdinalIgnoreCase);
    }
}

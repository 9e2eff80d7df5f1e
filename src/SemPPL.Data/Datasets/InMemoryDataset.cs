namespace SemPPL.Data.Datasets;

/// <summary>
/// Fixed-size images held as raw HWC bytes in one array (IDX and CIFAR after conversion).
/// Decoding is a copy, so it never fails.
/// </summary>
public sealed class InMemoryDataset : IImageDataset
{
    private readonly byte[] _pixels;
    private readonly byte[] _labels;
    private readonly string _prefix;

    public InMemoryDataset(string name, string itemPrefix, byte[] pixelsHwc, byte[] labels, int width, int height, int channels, IReadOnlyList<string> classNames)
    {
        long per = (long)width * height * channels;
        if (per == 0 || pixelsHwc.LongLength != per * labels.Length)
            throw new DataConfigException($"{name}: {pixelsHwc.LongLength} pixel bytes do not match {labels.Length} images of {width}x{height}x{channels}.");
        foreach (var l in labels)
            if (l >= classNames.Count) throw new DataConfigException($"{name}: label {l} outside the {classNames.Count} classes.");
        Name = name; _prefix = itemPrefix; _pixels = pixelsHwc; _labels = labels;
        Width = width; Height = height; Channels = channels; ClassNames = classNames;
    }

    public string Name { get; }
    public int Count => _labels.Length;
    public int NumClasses => ClassNames.Count;
    public int Channels { get; }
    public int Width { get; }
    public int Height { get; }
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>All pixels, image-major HWC.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    public int GetLabel(int index) => _labels[index];
    public string GetItemName(int index) => $"{_prefix}-{index:D6}";

    public bool TryDecode(int index, ref byte[] buffer, out int width, out int height, out string? error)
    {
        int per = Width * Height * Channels;
        if (buffer.Length < per) buffer = new byte[per];
        _pixels.AsSpan(index * per, per).CopyTo(buffer);
        width = Width; height = Height; error = null;
        return true;
    }

    /// <summary>IDX images + labels pair (images [N,H,W] grey or [N,H,W,C]).</summary>
    public static InMemoryDataset FromIdx(string name, string prefix, IdxReader.IdxArray images, IdxReader.IdxArray labels, IReadOnlyList<string>? classNames = null)
    {
        if (images.Dims.Length is not (3 or 4)) throw new DataConfigException($"{name}: IDX images must be [N,H,W] or [N,H,W,C], got rank {images.Dims.Length}.");
        if (labels.Dims.Length != 1 || labels.Dims[0] != images.Dims[0])
            throw new DataConfigException($"{name}: {labels.Dims[0]} labels for {images.Dims[0]} images.");
        int c = images.Dims.Length == 4 ? images.Dims[3] : 1;
        if (c is not (1 or 3)) throw new DataConfigException($"{name}: IDX images with {c} channels are not supported (1 or 3).");
        classNames ??= Enumerable.Range(0, labels.Data.Length == 0 ? 0 : labels.Data.Max() + 1).Select(i => i.ToString()).ToArray();
        return new InMemoryDataset(name, prefix, images.Data, labels.Data, images.Dims[2], images.Dims[1], c, classNames);
    }
}

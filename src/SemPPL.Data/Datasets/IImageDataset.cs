namespace SemPPL.Data.Datasets;

/// <summary>
/// An indexed, labelled image collection. Pixels decode to interleaved HWC bytes (0..255) with
/// <see cref="Channels"/> channels at the image's native size.
/// Implementations must be safe to decode from several threads at once.
/// </summary>
public interface IImageDataset
{
    /// <summary>Short description for logs, e.g. "fashion-mnist-embedded/train".</summary>
    string Name { get; }
    int Count { get; }
    int NumClasses { get; }
    /// <summary>1 (grey) or 3 (RGB): the channels <see cref="TryDecode"/> writes.</summary>
    int Channels { get; }
    IReadOnlyList<string> ClassNames { get; }
    int GetLabel(int index);
    /// <summary>Stable name: the file name for folder data, "train-000123" for in-memory formats.</summary>
    string GetItemName(int index);

    /// <summary>
    /// Decodes item <paramref name="index"/> into <paramref name="buffer"/> (grown when too small) as HWC bytes.
    /// Returns false with a reason when the item cannot be decoded (corrupt, truncated, too large).
    /// </summary>
    bool TryDecode(int index, ref byte[] buffer, out int width, out int height, out string? error);
}

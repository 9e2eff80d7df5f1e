namespace SemPPL.Data.Datasets;

/// <summary>A view of some items of another data set (used for data.max_train_images).</summary>
public sealed class SubsetDataset(IImageDataset inner, int[] indices) : IImageDataset
{
    public IImageDataset Inner => inner;
    public IReadOnlyList<int> InnerIndices => indices;
    public string Name => $"{inner.Name}[{indices.Length}]";
    public int Count => indices.Length;
    public int NumClasses => inner.NumClasses;
    public int Channels => inner.Channels;
    public IReadOnlyList<string> ClassNames => inner.ClassNames;
    public int GetLabel(int index) => inner.GetLabel(indices[index]);
    public string GetItemName(int index) => inner.GetItemName(indices[index]);
    public bool TryDecode(int index, ref byte[] buffer, out int width, out int height, out string? error)
        => inner.TryDecode(indices[index], ref buffer, out width, out height, out error);
}

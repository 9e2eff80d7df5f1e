using System.Reflection;

namespace SemPPL.Data.Datasets;

/// <summary>
/// Fashion-MNIST (Zalando Research, MIT licence). The embedded subset (1,000 training and 200 test
/// images per class, chosen by a fixed seed with Embedded/make-subset.py) ships inside this assembly;
/// the full set is read from Debian's dataset-fashion-mnist package or a given folder.
/// </summary>
public static class FashionMnist
{
    public const string DebianPath = "/usr/share/datasets/fashion-mnist";

    public static readonly string[] ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The subset embedded in this assembly; needs no file on disk.</summary>
    public static (InMemoryDataset Train, InMemoryDataset Test) OpenEmbedded()
    {
        var asm = typeof(FashionMnist).Assembly;
        return (
            InMemoryDataset.FromIdx("fashion-mnist-embedded/train", "train", ReadResource(asm, "train-images-idx3-ubyte.gz"), ReadResource(asm, "train-labels-idx1-ubyte.gz"), ClassNames),
            InMemoryDataset.FromIdx("fashion-mnist-embedded/test", "test", ReadResource(asm, "t10k-images-idx3-ubyte.gz"), ReadResource(asm, "t10k-labels-idx1-ubyte.gz"), ClassNames));
    }

    private static IdxReader.IdxArray ReadResource(Assembly asm, string file)
    {
        string name = "SemPPL.Data.Embedded." + file;
        using var s = asm.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"embedded resource {name} missing from {asm.GetName().Name}");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        ms.Position = 0;
        return IdxReader.Read(ms, name);
    }
}

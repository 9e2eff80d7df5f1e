namespace SemPPL.Data.Datasets;

/// <summary>
/// CIFAR-10/100 binary batches (the "binary version" from the CIFAR site). A record is
/// [label] (CIFAR-10) or [coarse, fine] (CIFAR-100) followed by 3x32x32 planar RGB; CIFAR-100 uses the fine label.
/// </summary>
public static class CifarReader
{
    private const int Side = 32, Plane = Side * Side, ImageBytes = 3 * Plane;

    public static readonly string[] Cifar10Train = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    public static readonly string[] Cifar10Test = ["test_batch.bin"];
    public static readonly string[] Cifar100Train = ["train.bin"];
    public static readonly string[] Cifar100Test = ["test.bin"];

    /// <summary>Opens the train or test split of a CIFAR folder (or its cifar-10-batches-bin / cifar-100-binary sub-folder).</summary>
    public static InMemoryDataset Open(string root, bool cifar100, bool train)
    {
        string dir = ResolveFolder(root, cifar100);
        var files = (cifar100, train) switch
        {
            (false, true) => Cifar10Train, (false, false) => Cifar10Test,
            (true, true) => Cifar100Train, (true, false) => Cifar100Test,
        };
        var paths = files.Select(f => System.IO.Path.Combine(dir, f)).ToArray();
        var missing = paths.Where(p => !File.Exists(p)).ToArray();
        if (missing.Length > 0)
            throw new DataConfigException($"data.path '{root}': CIFAR-{(cifar100 ? 100 : 10)} file(s) missing: {string.Join(", ", missing)} (expected {string.Join(", ", files)}).");
        var names = ReadClassNames(dir, cifar100);
        return Read(paths, cifar100, names, $"cifar{(cifar100 ? 100 : 10)}/{(train ? "train" : "test")}", train ? "train" : "test");
    }

    public static InMemoryDataset Read(IReadOnlyList<string> paths, bool cifar100, IReadOnlyList<string>? classNames, string name, string prefix)
    {
        int rec = ImageBytes + (cifar100 ? 2 : 1);
        var chunks = new List<byte[]>();
        long total = 0;
        foreach (var p in paths)
        {
            var bytes = File.ReadAllBytes(p);
            if (bytes.Length == 0 || bytes.Length % rec != 0)
                throw new DataConfigException($"'{p}' is not a CIFAR-{(cifar100 ? 100 : 10)} binary batch: {bytes.Length} bytes is not a multiple of the {rec}-byte record.");
            chunks.Add(bytes); total += bytes.Length / rec;
        }
        var pixels = new byte[total * ImageBytes];
        var labels = new byte[total];
        int n = 0;
        foreach (var bytes in chunks)
        {
            for (int r = 0; r < bytes.Length / rec; r++, n++)
            {
                var src = bytes.AsSpan(r * rec);
                labels[n] = cifar100 ? src[1] : src[0];
                var planes = src.Slice(rec - ImageBytes, ImageBytes);
                var dst = pixels.AsSpan(n * ImageBytes, ImageBytes);
                for (int i = 0; i < Plane; i++)   // planar RRR..GGG..BBB -> interleaved RGB
                {
                    dst[3 * i] = planes[i];
                    dst[3 * i + 1] = planes[Plane + i];
                    dst[3 * i + 2] = planes[2 * Plane + i];
                }
            }
        }
        int classes = cifar100 ? 100 : 10;
        classNames ??= cifar100 ? Enumerable.Range(0, classes).Select(i => i.ToString()).ToArray() : Cifar10ClassNames;
        return new InMemoryDataset(name, prefix, pixels, labels, Side, Side, 3, classNames);
    }

    /// <summary>CIFAR-10's label order (batches.meta.txt of the binary version), used when that file is absent.</summary>
    public static readonly string[] Cifar10ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    private static string ResolveFolder(string root, bool cifar100)
    {
        if (!Directory.Exists(root)) throw new DataConfigException($"data.path '{root}' does not exist (expected a folder with CIFAR binary batches).");
        string sub = System.IO.Path.Combine(root, cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin");
        string probe = cifar100 ? Cifar100Train[0] : Cifar10Train[0];
        return !File.Exists(System.IO.Path.Combine(root, probe)) && Directory.Exists(sub) ? sub : root;
    }

    private static IReadOnlyList<string>? ReadClassNames(string dir, bool cifar100)
    {
        string f = System.IO.Path.Combine(dir, cifar100 ? "fine_label_names.txt" : "batches.meta.txt");
        if (!File.Exists(f)) return null;
        var names = File.ReadAllLines(f).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return names.Length == (cifar100 ? 100 : 10) ? names : null;
    }
}

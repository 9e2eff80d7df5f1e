using SemPPL.Config;
using SemPPL.Data.Random;

namespace SemPPL.Data.Datasets;

/// <summary>Training and test data sets of a run. <see cref="Test"/> is null for folder data without data.test_path.</summary>
public sealed record DatasetPair(IImageDataset Train, IImageDataset? Test, DataDiagnostics Diagnostics);

/// <summary>Opens the data sets named by <see cref="DataConfig"/>.</summary>
public static class DatasetFactory
{
    public static readonly string[] Names = ["fashion-mnist-embedded", "fashion-mnist", "idx", "cifar10", "cifar100", "folder"];

    /// <param name="channels">Decoded channels for folder data (AugmentConfig.Channels).</param>
    /// <param name="seed">Chooses the data.max_train_images subset.</param>
    public static DatasetPair Open(DataConfig cfg, int channels = 3, int seed = 0, DataDiagnostics? diagnostics = null)
    {
        var diag = diagnostics ?? new DataDiagnostics();
        string name = (cfg.Dataset ?? "").Trim().ToLowerInvariant();
        (IImageDataset train, IImageDataset? test) = name switch
        {
            "fashion-mnist-embedded" => FashionMnist.OpenEmbedded(),
            "fashion-mnist" => OpenIdx(cfg.Path ?? FashionMnist.DebianPath, cfg.Path is null ? "data.path (default " + FashionMnist.DebianPath + ", from Debian package dataset-fashion-mnist)" : "data.path", FashionMnist.ClassNames, "fashion-mnist"),
            "idx" => OpenIdx(RequirePath(cfg.Path, name), "data.path", null, "idx"),
            "cifar10" => (CifarReader.Open(RequirePath(cfg.Path, name), false, true), CifarReader.Open(cfg.Path!, false, false)),
            "cifar100" => (CifarReader.Open(RequirePath(cfg.Path, name), true, true), CifarReader.Open(cfg.Path!, true, false)),
            "folder" => OpenFolder(cfg, channels, diag),
            _ => throw new DataConfigException($"data.dataset '{cfg.Dataset}' is unknown; valid values: {string.Join(", ", Names)}."),
        };
        if (train.Count == 0) throw new DataConfigException($"data.path '{cfg.Path}': the training set of data.dataset '{cfg.Dataset}' is empty.");
        if (cfg.MaxTrainImages > 0 && cfg.MaxTrainImages < train.Count)
        {
            // A seeded random subset keeps the class mix of the full set (on average).
            var idx = CounterRng.Permutation(train.Count, CounterRng.For(seed, RngStream.Subset)).AsSpan(0, cfg.MaxTrainImages).ToArray();
            Array.Sort(idx);
            train = new SubsetDataset(train, idx);
        }
        return new DatasetPair(train, test, diag);
    }

    private static string RequirePath(string? path, string dataset)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DataConfigException($"data.path is not set; data.dataset '{dataset}' needs the path of the data.");
        return path;
    }

    private static (IImageDataset, IImageDataset?) OpenFolder(DataConfig cfg, int channels, DataDiagnostics diag)
    {
        var train = new ImageFolderDataset(RequirePath(cfg.Path, "folder"), channels, cfg.MaxPixels, diag, workers: cfg.Workers);
        ImageFolderDataset? test = string.IsNullOrWhiteSpace(cfg.TestPath) ? null
            : new ImageFolderDataset(cfg.TestPath!, channels, cfg.MaxPixels, diag, train.ClassNames, "data.test_path", cfg.Workers);
        return (train, test);
    }

    /// <summary>
    /// IDX pair lookup: <paramref name="path"/> is a folder holding train-images/train-labels
    /// (and t10k-* or test-*) files, raw or .gz, or the training images file itself.
    /// </summary>
    public static (IImageDataset, IImageDataset?) OpenIdx(string path, string key, IReadOnlyList<string>? classNames, string name)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DataConfigException($"{key} is empty.");
        string dir; string trainImages;
        if (Directory.Exists(path))
        {
            dir = path;
            trainImages = Find(dir, ["train-images-idx3-ubyte", "train-images.idx3-ubyte"])
                ?? throw new DataConfigException($"{key} '{path}' has no train-images-idx3-ubyte[.gz] file (IDX training images).");
        }
        else if (File.Exists(path)) { trainImages = path; dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!; }
        else throw new DataConfigException($"{key} '{path}' does not exist (expected a folder of IDX files or an IDX images file).");

        string fileName = System.IO.Path.GetFileName(trainImages);
        string trainLabels = Find(dir, [fileName.Replace("images", "labels").Replace("idx3", "idx1").Replace(".gz", "")])
            ?? throw new DataConfigException($"{key} '{path}': no labels file next to '{trainImages}' (expected {fileName.Replace("images", "labels").Replace("idx3", "idx1")}).");
        var train = InMemoryDataset.FromIdx($"{name}/train", "train", IdxReader.Read(trainImages), IdxReader.Read(trainLabels), classNames);

        IImageDataset? test = null;
        foreach (var prefix in new[] { "t10k", "test" })
        {
            string baseName = fileName.Replace(".gz", "").Replace("train", prefix);
            var ti = Find(dir, [baseName]);
            var tl = Find(dir, [baseName.Replace("images", "labels").Replace("idx3", "idx1")]);
            if (ti is null || tl is null) continue;
            test = InMemoryDataset.FromIdx($"{name}/test", "test", IdxReader.Read(ti), IdxReader.Read(tl), train.ClassNames);
            break;
        }
        return (train, test);
    }

    private static string? Find(string dir, string[] baseNames)
    {
        foreach (var b in baseNames)
            foreach (var cand in new[] { b, b + ".gz" })
            {
                var p = System.IO.Path.Combine(dir, cand);
                if (File.Exists(p)) return p;
            }
        return null;
    }
}

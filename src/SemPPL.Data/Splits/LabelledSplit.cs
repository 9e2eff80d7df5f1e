using System.Text.Json;
using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Random;

namespace SemPPL.Data.Splits;

/// <summary>
/// Which training items are labelled. The unlabelled stream is the whole training set; this only
/// picks the labelled subset. Saved as JSON with the item names so evaluation and resume reuse it.
/// </summary>
public sealed class LabelledSplit
{
    public LabelledSplit(int[] indices, string method, long seed)
    {
        Indices = indices; Method = method; Seed = seed;
    }

    /// <summary>Sorted training-set indices of the labelled items.</summary>
    public int[] Indices { get; }
    /// <summary>"labels_per_class=N", "label_fraction=F" or "label_file=PATH".</summary>
    public string Method { get; }
    public long Seed { get; }
    public int Count => Indices.Length;

    /// <summary>From config: label_file wins over label_fraction, which wins over labels_per_class.</summary>
    public static LabelledSplit Create(IImageDataset train, DataConfig cfg, long seed)
    {
        if (!string.IsNullOrWhiteSpace(cfg.LabelFile)) return FromFile(train, cfg.LabelFile!);
        if (cfg.LabelFraction is double f) return ByFraction(train, f, seed);
        if (cfg.LabelsPerClass is int n) return PerClass(train, n, seed);
        throw new DataConfigException("no labelled split configured: set data.labels_per_class, data.label_fraction or data.label_file.");
    }

    /// <summary>N items of every class, drawn by seed.</summary>
    public static LabelledSplit PerClass(IImageDataset train, int perClass, long seed)
    {
        if (perClass < 1) throw new DataConfigException($"data.labels_per_class must be at least 1, got {perClass}.");
        var byClass = ByClass(train);
        for (int c = 0; c < byClass.Length; c++)
            if (byClass[c].Count < perClass && byClass[c].Count > 0 || byClass[c].Count == 0)
                throw new DataConfigException($"data.labels_per_class {perClass} is more than the {byClass[c].Count} image(s) of class '{train.ClassNames[c]}' (class {c}) in {train.Name}; at most {byClass.Min(b => b.Count)} is valid.");
        return new LabelledSplit(Draw(byClass, _ => perClass, seed), $"labels_per_class={perClass}", seed);
    }

    /// <summary>round(fraction x class size) items of every class (at least one), drawn by seed.</summary>
    public static LabelledSplit ByFraction(IImageDataset train, double fraction, long seed)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new DataConfigException($"data.label_fraction must be in (0, 1], got {fraction}.");
        var byClass = ByClass(train);
        return new LabelledSplit(Draw(byClass, c => byClass[c].Count == 0 ? 0 : Math.Max(1, (int)Math.Round(fraction * byClass[c].Count)), seed),
            $"label_fraction={fraction}", seed);
    }

    /// <summary>SimCLR subset format: one file name a line (e.g. n01440764_10026.JPEG); matched against item names.</summary>
    public static LabelledSplit FromFile(IImageDataset train, string path)
    {
        if (!File.Exists(path)) throw new DataConfigException($"data.label_file '{path}' does not exist.");
        var wanted = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        if (wanted.Length == 0) throw new DataConfigException($"data.label_file '{path}' names no file.");
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < train.Count; i++) byName.TryAdd(train.GetItemName(i), i);
        var missing = wanted.Where(w => !byName.ContainsKey(System.IO.Path.GetFileName(w))).ToArray();
        if (missing.Length > 0)
            throw new DataConfigException($"data.label_file '{path}': {missing.Length} of {wanted.Length} file(s) are not in the training set {train.Name}, e.g. {string.Join(", ", missing.Take(5))}.");
        var idx = wanted.Select(w => byName[System.IO.Path.GetFileName(w)]).Distinct().Order().ToArray();
        return new LabelledSplit(idx, $"label_file={path}", 0);
    }

    private static List<int>[] ByClass(IImageDataset ds)
    {
        var byClass = Enumerable.Range(0, ds.NumClasses).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < ds.Count; i++) byClass[ds.GetLabel(i)].Add(i);
        return byClass;
    }

    private static int[] Draw(List<int>[] byClass, Func<int, int> take, long seed)
    {
        var result = new List<int>();
        for (int c = 0; c < byClass.Length; c++)
        {
            var items = byClass[c].ToArray();
            var rng = CounterRng.For(seed, RngStream.Split, c);   // per class: one class never shifts another's draw
            CounterRng.Shuffle(items.AsSpan(), ref rng);
            result.AddRange(items.Take(take(c)));
        }
        result.Sort();
        return result.ToArray();
    }

    private sealed record SplitFile(int Version, string Dataset, string Method, long Seed, int Count, int[] Indices, string[] Names);

    public void Save(string path, IImageDataset train)
    {
        var names = Indices.Select(train.GetItemName).ToArray();
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllText(path, JsonSerializer.Serialize(new SplitFile(1, train.Name, Method, Seed, Count, Indices, names), JsonOptions));
    }

    /// <summary>Loads a saved split and checks that its item names still match the data set.</summary>
    public static LabelledSplit Load(string path, IImageDataset train)
    {
        if (!File.Exists(path)) throw new DataConfigException($"split file '{path}' does not exist.");
        var f = JsonSerializer.Deserialize<SplitFile>(File.ReadAllText(path), JsonOptions)
            ?? throw new DataConfigException($"split file '{path}' is empty.");
        for (int k = 0; k < f.Indices.Length; k++)
        {
            int i = f.Indices[k];
            if (i < 0 || i >= train.Count || train.GetItemName(i) != f.Names[k])
                throw new DataConfigException($"split file '{path}' does not match {train.Name}: entry {k} is item {i} '{f.Names[k]}', the data set has {(i >= 0 && i < train.Count ? "'" + train.GetItemName(i) + "'" : "no such index")}.");
        }
        return new LabelledSplit(f.Indices, f.Method, f.Seed);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}

using Xunit;

namespace SemPPL.Config.Tests;

public class HashTests
{
    private static SemPPLConfig Quickstart() => ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "quickstart.yaml"));

    [Fact]
    public void HashIsStableAndHex()
    {
        var a = ConfigHash.Compute(Quickstart());
        var b = ConfigHash.Compute(Quickstart());
        Assert.Equal(a, b);
        Assert.Matches("^[0-9a-f]{64}$", a);
        Assert.Equal(ConfigHash.Compute(new SemPPLConfig()), ConfigHash.Compute(new SemPPLConfig()));
    }

    public static IEnumerable<object[]> Irrelevant() => new (string, Action<SemPPLConfig>)[]
    {
        ("seed", c => c.Seed = 42),
        ("name", c => c.Name = "other"),
        ("device", c => c.Device = "cuda:0"),
        ("threads", c => c.Threads = 3),
        ("training.log_every", c => c.Training.LogEvery = 1),
        ("training.steps", c => c.Training.Steps = 5),
        ("training.ema_base", c => c.Training.EmaBase = 0.9),
        ("optimizer.base_lr", c => c.Optimizer.BaseLr = 2),
        ("augment.crop_area", c => c.Augment.CropArea = [0.5, 1.0]),
        ("data.labels_per_class", c => c.Data.LabelsPerClass = 5),
        ("eval.knn_k", c => c.Eval.KnnK = 3),
    }.Select(x => new object[] { x.Item1, x.Item2 });

    public static IEnumerable<object[]> Relevant() => new (string, Action<SemPPLConfig>)[]
    {
        ("model.width", c => c.Model.Width = 0.5),
        ("model.backbone", c => c.Model.Backbone = "resnet34"),
        ("model.projector.out", c => c.Model.Projector.Out = 32),
        ("model.num_classes", c => c.Model.NumClasses = 11),
        ("objective.temperature", c => c.Objective.Temperature = 0.1),
        ("objective.negatives", c => c.Objective.Negatives = "all"),
        ("objective.queue_capacity", c => c.Objective.QueueCapacity = "1000"),
        ("augment.large_views", c => c.Augment.LargeViews = 3),
        ("augment.small_views", c => c.Augment.SmallViews = 2),
        ("augment.large_size", c => c.Augment.LargeSize = 32),
        ("augment.channels", c => c.Augment.Channels = 3),
        ("training.batch_unlabelled", c => c.Training.BatchUnlabelled = 128),
        ("training.batch_labelled", c => c.Training.BatchLabelled = 8),
        ("optimizer.name", c => c.Optimizer.Name = "sgd"),
        ("optimizer.weight_decay", c => c.Optimizer.WeightDecay = 1e-4),
        ("optimizer.trust_coefficient", c => c.Optimizer.TrustCoefficient = 1e-2),
    }.Select(x => new object[] { x.Item1, x.Item2 });

    [Theory]
    [MemberData(nameof(Irrelevant))]
    public void KeysOutsideTheGraphsDoNotChangeTheHash(string key, Action<SemPPLConfig> change)
    {
        Assert.DoesNotContain(key, ConfigHash.HashedKeys());
        var c = Quickstart(); var h = ConfigHash.Compute(c, 100);
        change(c);
        Assert.Equal(h, ConfigHash.Compute(c, 100));
    }

    [Theory]
    [MemberData(nameof(Relevant))]
    public void GraphKeysChangeTheHash(string key, Action<SemPPLConfig> change)
    {
        Assert.Contains(key, ConfigHash.HashedKeys());
        var c = Quickstart(); var h = ConfigHash.Compute(c, 100);
        change(c);
        Assert.NotEqual(h, ConfigHash.Compute(c, 100));
    }

    [Fact]
    public void ResolvedValuesAreHashedNotTheirSpelling()
    {
        var a = Quickstart(); a.Objective.Negatives = "all";          // 64 + 16 - 1 = 79
        var b = Quickstart(); b.Objective.Negatives = "79";
        Assert.Equal(ConfigHash.Compute(a), ConfigHash.Compute(b));
        var c = Quickstart(); c.Training.BatchLabelled = 16;           // = the default B_u / 4
        Assert.Equal(ConfigHash.Compute(Quickstart()), ConfigHash.Compute(c));
        var d = Quickstart(); d.Objective.QueueCapacity = "200";       // = auto with 100 labelled x 2
        Assert.Equal(ConfigHash.Compute(Quickstart(), 100), ConfigHash.Compute(d, 100));
        Assert.NotEqual(ConfigHash.Compute(Quickstart(), 100), ConfigHash.Compute(Quickstart(), 1000));
    }

    [Fact]
    public void OnnxBackboneIsHashedByContent()
    {
        var dir = Directory.CreateTempSubdirectory("semppl-hash-");
        try
        {
            var f1 = Path.Combine(dir.FullName, "a.onnx"); File.WriteAllBytes(f1, [1, 2, 3]);
            var f2 = Path.Combine(dir.FullName, "b.onnx"); File.WriteAllBytes(f2, [1, 2, 3]);
            SemPPLConfig With(string f) { var c = Quickstart(); c.Model.Backbone = "onnx:" + f; c.Model.OnnxInput = "x"; c.Model.OnnxOutput = "y"; return c; }
            var h1 = ConfigHash.Compute(With(f1));
            Assert.Equal(h1, ConfigHash.Compute(With(f2)));                // same bytes, other path
            File.WriteAllBytes(f2, [1, 2, 4]);
            Assert.NotEqual(h1, ConfigHash.Compute(With(f2)));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void BnGroupsEntersTheHashOnlyWhenSet()
    {
        var plain = Quickstart();
        var grouped = Quickstart();
        grouped.Training.BnGroups = 2;
        Assert.DoesNotContain("training.bn_groups", ConfigHash.CanonicalText(plain, 100));
        Assert.Contains("training.bn_groups=2", ConfigHash.CanonicalText(grouped, 100).Split('\n'));
        Assert.NotEqual(ConfigHash.Compute(plain, 100), ConfigHash.Compute(grouped, 100));
    }

    [Fact]
    public void CanonicalTextListsExactlyTheHashedKeys()
    {
        var text = ConfigHash.CanonicalText(Quickstart(), 100);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(ConfigHash.FormatVersion, lines[0]);
        var keys = lines.Skip(1).Select(l => l[..l.IndexOf('=')]).ToList();
        // training.bn_groups enters only when set (0, the default, keeps the hashes of configs older than the key).
        Assert.Equal(ConfigHash.HashedKeys().Where(k => k != "training.bn_groups").OrderBy(k => k, StringComparer.Ordinal), keys);
        Assert.Contains("objective.queue_capacity=200", lines);
        Assert.Contains("objective.negatives=10", lines);
        Assert.Contains("model.width=0.25", lines);
    }
}

using Xunit;

namespace SemPPL.Config.Tests;

public class LoaderTests
{
    [Fact]
    public void AllExpectedConfigsAreShipped()
    {
        var names = RepoPaths.ShippedConfigs().Select(o => (string)o[0]).ToHashSet();
        foreach (var n in new[] { "quickstart.yaml", "fashion-mnist.yaml", "cifar10.yaml", "imagenet-r50-1pct.yaml", "imagenet-r50-10pct.yaml", "imagenet-sk-r50-1pct.yaml" })
            Assert.Contains(n, names);
    }

    [Theory]
    [MemberData(nameof(RepoPaths.ShippedConfigs), MemberType = typeof(RepoPaths))]
    public void ShippedConfigLoadsAndValidates(string file)
    {
        var config = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, file));
        Assert.Empty(ConfigValidator.Problems(config));
        Assert.Equal(Path.GetFileNameWithoutExtension(file), config.Name);
        // No data path keeps a '~' or a placeholder.
        foreach (var p in new[] { config.Data.Path, config.Data.TestPath, config.Data.LabelFile })
            if (p is not null) { Assert.False(p.StartsWith('~'), p); Assert.DoesNotContain("<", p); }
    }

    [Fact]
    public void QuickstartHasTheTinySetting()
    {
        var c = ConfigLoader.LoadValidated(Path.Combine(RepoPaths.Configs, "quickstart.yaml"), checkPaths: true);
        Assert.Equal("fashion-mnist-embedded", c.Data.Dataset);
        Assert.Equal(10, c.Data.LabelsPerClass);
        Assert.Equal("resnet18", c.Model.Backbone);
        Assert.Equal("small-s2", c.Model.Stem);
        Assert.InRange(c.Model.Width, 0.125, 0.25);
        Assert.Equal((2, 0, 28, 1), (c.Augment.LargeViews, c.Augment.SmallViews, c.Augment.LargeSize, c.Augment.Channels));
        Assert.Equal(new[] { 0.35, 1.0 }, c.Augment.CropArea);
        Assert.Equal(new[] { 0.0, 0.0 }, c.Augment.BlurProbability);
        Assert.Equal(new[] { 0.0, 0.0 }, c.Augment.SolarizeProbability);
        Assert.Equal((256, 64, 256, 64), (c.Model.Projector.Hidden, c.Model.Projector.Out, c.Model.Predictor.Hidden, c.Model.Predictor.Out));
        Assert.Equal(64, c.Training.BatchUnlabelled);
        Assert.Equal("auto", c.Objective.QueueCapacity);
        Assert.Equal(1300, c.Training.Steps);     // the README quotes the quickstart at 1,300 steps
        Assert.Equal((5, 1.0), (c.Objective.KnnK, c.Objective.Alpha));
    }

    [Theory]
    [InlineData("imagenet-r50-1pct.yaml", "resnet50", "1percent.txt")]
    [InlineData("imagenet-r50-10pct.yaml", "resnet50", "10percent.txt")]
    [InlineData("imagenet-sk-r50-1pct.yaml", "sk_resnet50", "1percent.txt")]
    public void ImageNetConfigsHaveThePaperSetting(string file, string backbone, string subset)
    {
        var c = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, file));
        var home = Environment.GetEnvironmentVariable("HOME")!;
        Assert.Equal(backbone, c.Model.Backbone);
        Assert.Equal("imagenet", c.Model.Stem);
        Assert.Equal((4, 2, 224, 96), (c.Augment.LargeViews, c.Augment.SmallViews, c.Augment.LargeSize, c.Augment.SmallSize));
        Assert.Equal((4096, 256, 4096, 256), (c.Model.Projector.Hidden, c.Model.Projector.Out, c.Model.Predictor.Hidden, c.Model.Predictor.Out));
        Assert.Equal(("lars", 0.3, 1e-6), (c.Optimizer.Name, c.Optimizer.BaseLr, c.Optimizer.WeightDecay));
        Assert.Equal((4096, 1024), (c.Training.BatchUnlabelled, c.Training.EffectiveBatchLabelled()));
        Assert.Equal((300.0, 10.0, 0.996), (c.Training.Epochs, c.Training.WarmupEpochs, c.Training.EmaBase));
        Assert.Null(c.Data.LabelsPerClass);
        Assert.Equal(Path.Combine(home, "data/imagenet", subset), c.Data.LabelFile);
        Assert.Equal(Path.Combine(home, "data/imagenet/train"), c.Data.Path);
        Assert.Equal(1000, c.Model.NumClasses);
    }

    [Fact]
    public void KeysAreSnakeCase()
    {
        var paths = ConfigSchema.LeafPaths();
        foreach (var p in new[] { "training.batch_unlabelled", "data.label_fraction", "objective.knn_k", "objective.c", "model.bn_momentum", "model.projector.hidden", "training.warmup_steps", "augment.color_jitter_probability" })
            Assert.Contains(p, paths);
        Assert.All(paths, p => Assert.Matches("^[a-z0-9_.]+$", p));
    }

    [Fact]
    public void EmptyYamlGivesDefaults()
    {
        var c = ConfigLoader.FromYaml("");
        Assert.Equal(256, c.Training.BatchUnlabelled);
        Assert.Equal(10, c.Data.LabelsPerClass);
        Assert.Empty(ConfigValidator.Problems(c));
    }

    [Fact]
    public void UnknownKeyNamesPathAndSuggestsNearest()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("training:\n  batch_unlabeled: 64\n"));
        var msg = Assert.Single(e.Problems);
        Assert.Contains("training.batch_unlabeled", msg);
        Assert.Contains("unknown key", msg);
        Assert.Contains("did you mean 'training.batch_unlabelled'", msg);
        Assert.Contains("line 2", msg);
    }

    [Fact]
    public void UnknownKeyInWrongSectionSuggestsTheRightSection()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("training:\n  base_lr: 0.5\n"));
        Assert.Contains("training.base_lr", e.Problems[0]);
        Assert.Contains("did you mean 'optimizer.base_lr'", e.Problems[0]);
    }

    [Fact]
    public void UnknownSectionSuggestsSection()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("trainin:\n  steps: 3\n"));
        Assert.Contains("trainin: unknown key", e.Problems[0]);
        Assert.Contains("did you mean 'training'", e.Problems[0]);
    }

    [Fact]
    public void UnknownNestedKey()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("model:\n  projector:\n    hiden: 12\n"));
        Assert.Contains("model.projector.hiden", e.Problems[0]);
        Assert.Contains("did you mean 'model.projector.hidden'", e.Problems[0]);
    }

    [Fact]
    public void FarFetchedKeyListsValidKeys()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("eval:\n  zzzzzzzzzz: 1\n"));
        Assert.Contains("eval.zzzzzzzzzz", e.Problems[0]);
        Assert.Contains("valid keys here: knn_k", e.Problems[0]);
    }

    [Theory]
    [InlineData("training:\n  batch_unlabelled: abc\n", "training.batch_unlabelled", "'abc'", "an integer")]
    [InlineData("training:\n  batch_unlabelled: 1.5\n", "training.batch_unlabelled", "'1.5'", "an integer")]
    [InlineData("optimizer:\n  base_lr: fast\n", "optimizer.base_lr", "'fast'", "a number")]
    [InlineData("training:\n  eval_at_end: maybe\n", "training.eval_at_end", "'maybe'", "a boolean")]
    [InlineData("augment:\n  crop_area: 0.5\n", "augment.crop_area", "'0.5'", "a list of numbers")]
    [InlineData("augment:\n  crop_area: [0.5, x]\n", "augment.crop_area", "'x'", "a list of numbers")]
    [InlineData("model: resnet50\n", "model", "'resnet50'", "a mapping")]
    [InlineData("name: [a, b]\n", "name", "a list [a, b]", "a string")]
    [InlineData("seed:\n", "seed", "null", "an integer")]
    [InlineData("optimizer:\n  base_lr: .nan\n", "optimizer.base_lr", "'.nan'", "a number")]
    public void TypeErrorNamesKeyValueAndExpectedType(string yaml, string key, string value, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml(yaml));
        var msg = Assert.Single(e.Problems);
        Assert.StartsWith(key + ":", msg);
        Assert.Contains(value, msg);
        Assert.Contains(expected, msg);
    }

    [Fact]
    public void AllLoadProblemsAreReportedTogether()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("seed: x\ntraining:\n  stepz: 3\n  epochs: many\nfoo: 1\n", "my.yaml"));
        Assert.Equal(4, e.Problems.Count);
        Assert.Contains("my.yaml", e.Message);
        Assert.Contains("4 problems", e.Message);
    }

    [Fact]
    public void SyntaxErrorIsAConfigException()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("training:\n  steps: [1, 2\n"));
        Assert.Contains("YAML syntax error", e.Message);
    }

    [Fact]
    public void DuplicateKeyIsAnError()
    {
        Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml("seed: 1\nseed: 2\n"));
    }

    [Fact]
    public void LabelsPerClassDefaultYieldsToFractionOrFile()
    {
        var f = ConfigLoader.FromYaml("data:\n  label_fraction: 0.1\n");
        Assert.Null(f.Data.LabelsPerClass);
        Assert.Equal(0.1, f.Data.LabelFraction);
        Assert.Empty(ConfigValidator.Problems(f));

        var both = ConfigLoader.FromYaml("data:\n  labels_per_class: 10\n  label_fraction: 0.1\n");
        var msg = Assert.Single(ConfigValidator.Problems(both));
        Assert.Contains("exactly one of labels_per_class, label_fraction, label_file", msg);
        Assert.Contains("labels_per_class (10)", msg);
        Assert.Contains("label_fraction (0.1)", msg);
    }

    [Fact]
    public void LeadingTildeIsExpanded()
    {
        var c = ConfigLoader.FromYaml("data:\n  dataset: folder\n  path: ~/x/train\n  label_file: ~/x/1percent.txt\nmodel:\n  backbone: onnx:~/m.onnx\n");
        var home = Environment.GetEnvironmentVariable("HOME")!;
        Assert.Equal(Path.Combine(home, "x/train"), c.Data.Path);
        Assert.Equal(Path.Combine(home, "x/1percent.txt"), c.Data.LabelFile);
        Assert.Equal("onnx:" + Path.Combine(home, "m.onnx"), c.Model.Backbone);
        Assert.Equal("~user/x", ConfigPaths.ExpandHome("~user/x"));
        Assert.Equal("/abs/~/x", ConfigPaths.ExpandHome("/abs/~/x"));
    }

    [Fact]
    public void RoundTripOfAModifiedConfigIsExact()
    {
        var c = new SemPPLConfig { Name = "null", Seed = 7, Device = "cuda:1" };
        c.Data.LabelsPerClass = null; c.Data.LabelFile = "/tmp/with space: and #hash.txt"; c.Data.Dataset = "folder"; c.Data.Path = "/d";
        c.Data.MaxPixels = 9_000_000_000;
        c.Augment.CropAspect = [3.0 / 4.0, 4.0 / 3.0];
        c.Augment.Mean = [0.1, 0.2, 0.30000000000000004]; c.Augment.Std = [1, 2, 3]; c.Augment.Channels = 3;
        c.Model.NumClasses = 1000; c.Model.ZeroInitResidual = true; c.Model.BnEpsilon = 1e-5;
        c.Objective.Negatives = "all"; c.Objective.QueueCapacity = "4096";
        c.Optimizer.WeightDecay = 1e-6; c.Training.EvalAtEnd = false; c.Training.Epochs = 0.5;

        var yaml = ConfigLoader.ToYaml(c);
        var back = ConfigLoader.FromYaml(yaml);
        Assert.Equal(ConfigLoader.ToYaml(back), yaml);
        Assert.Equal("null", back.Name);
        Assert.Null(back.Data.LabelsPerClass);
        Assert.Equal(c.Data.LabelFile, back.Data.LabelFile);
        Assert.Equal(c.Augment.CropAspect, back.Augment.CropAspect);
        Assert.Equal(c.Augment.Mean, back.Augment.Mean);
        Assert.Equal(9_000_000_000, back.Data.MaxPixels);
        Assert.Equal("all", back.Objective.Negatives);
        Assert.Equal("4096", back.Objective.QueueCapacity);
        Assert.True(back.Model.ZeroInitResidual);
        Assert.False(back.Training.EvalAtEnd);
        Assert.Equal(0.5, back.Training.Epochs);
        Assert.Equal(ConfigHash.Compute(c), ConfigHash.Compute(back));
    }

    [Theory]
    [MemberData(nameof(RepoPaths.ShippedConfigs), MemberType = typeof(RepoPaths))]
    public void SaveAndLoadRoundTripsShippedConfigs(string file)
    {
        var c = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, file));
        var tmp = Path.Combine(Path.GetTempPath(), "semppl-config-tests", Guid.NewGuid().ToString("N"), file);
        try
        {
            ConfigLoader.Save(c, tmp);
            var back = ConfigLoader.Load(tmp);
            Assert.Equal(ConfigLoader.ToYaml(c), ConfigLoader.ToYaml(back));
            Assert.Equal(ConfigHash.Compute(c), ConfigHash.Compute(back));
            // Every leaf key is written.
            var text = File.ReadAllText(tmp);
            foreach (var k in ConfigSchema.AllKeys()) Assert.Contains(k.Key + ":", text);
        }
        finally { Directory.Delete(Path.GetDirectoryName(tmp)!, true); }
    }

    [Fact]
    public void MissingFileIsAConfigException()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load("/nonexistent/semppl.yaml"));
        Assert.Contains("/nonexistent/semppl.yaml", e.Message);
    }
}

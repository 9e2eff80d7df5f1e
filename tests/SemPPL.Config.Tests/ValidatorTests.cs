using Xunit;

namespace SemPPL.Config.Tests;

public class ValidatorTests
{
    [Fact]
    public void DefaultConfigIsValid() => Assert.Empty(ConfigValidator.Problems(new SemPPLConfig()));

    public static IEnumerable<object[]> Cases() => new (string Yaml, string[] Expected)[]
    {
        ("optimizer: { name: adam }", ["optimizer.name: 'adam' is not one of lars, sgd, adamw"]),
        ("augment: { crop_area: [1.2, 0.5] }", ["augment.crop_area: [1.2, 0.5] must be two numbers with 0 < min <= max <= 1"]),
        ("augment: { crop_area: [0.5] }", ["augment.crop_area: [0.5]", "two numbers"]),
        ("augment: { small_crop_area: [0, 0.1] }", ["augment.small_crop_area: [0.0, 0.1]", "0 < min"]),
        ("augment: { crop_aspect: [2, 1] }", ["augment.crop_aspect: [2.0, 1.0]", "0 < min <= max"]),
        ("model: { backbone: resnet19 }", ["model.backbone: 'resnet19' is not a known backbone; known: resnet18, resnet34, resnet50, resnet101, resnet152, resnet200, sk_resnet18, sk_resnet34, sk_resnet50, sk_resnet101, sk_resnet152, onnx:<path>"]),
        ("device: gpu", ["device: 'gpu' is not one of auto, cpu, cuda, cuda:N"]),
        ("device: 'cuda:x'", ["device: 'cuda:x'"]),
        ("objective: { negatives: many }", ["objective.negatives: 'many' must be a positive integer or \"all\""]),
        ("objective: { negatives: 0 }", ["objective.negatives: '0' must be a positive integer"]),
        ("objective: { negatives: 320 }", ["objective.negatives: 320 must be smaller than the batch (320", "at most 319"]),
        ("objective: { queue_capacity: big }", ["objective.queue_capacity: 'big' must be a positive integer or \"auto\""]),
        ("objective: { queue_capacity: 100 }", ["objective.queue_capacity: 100 must be >= the entries pushed per step (128"]),
        ("objective: { temperature: 0 }", ["objective.temperature: 0.0 must be a number > 0"]),
        ("objective: { alpha: -1 }", ["objective.alpha: -1.0 must be a number >= 0"]),
        ("objective: { knn_k: 0 }", ["objective.knn_k: 0 must be an integer >= 1"]),
        ("data: { labels_per_class: null }", ["data: exactly one of labels_per_class, label_fraction, label_file must be set; none is"]),
        ("data: { label_fraction: 0.1, label_file: /x.txt }", ["data: exactly one of", "label_fraction (0.1)", "label_file ('/x.txt')"]),
        ("data: { label_fraction: 1.5 }", ["data.label_fraction: 1.5 must be a fraction in (0, 1]"]),
        ("data: { labels_per_class: 0 }", ["data.labels_per_class: 0 must be an integer >= 1"]),
        ("data: { dataset: imagenet }", ["data.dataset: 'imagenet' is not one of fashion-mnist-embedded, fashion-mnist, idx, cifar10, cifar100, folder"]),
        ("data: { dataset: folder }", ["data.path: '' is required for dataset 'folder'"]),
        ("data: { path: /x }", ["data.path: '/x' must not be set for dataset fashion-mnist-embedded"]),
        ("model: { num_classes: 100 }", ["model.num_classes: 100 does not match dataset 'fashion-mnist-embedded', which has 10 classes"]),
        ("augment: { flip_probability: 1.5 }", ["augment.flip_probability: 1.5 must be a probability in [0, 1]"]),
        ("augment: { grayscale_probability: -0.1 }", ["augment.grayscale_probability: -0.1 must be a probability in [0, 1]"]),
        ("augment: { blur_probability: [1.0, 2.0] }", ["augment.blur_probability: [1.0, 2.0] must be two probabilities in [0, 1]"]),
        ("augment: { solarize_probability: [0.2] }", ["augment.solarize_probability: [0.2] must be two probabilities"]),
        ("augment: { hue: 0.7 }", ["augment.hue: 0.7 must be a number in [0, 0.5]"]),
        ("augment: { channels: 2 }", ["augment.channels: 2 is not one of 1 (grey), 3 (RGB)"]),
        ("augment: { large_size: 0 }", ["augment.large_size: 0 must be an integer >= 1"]),
        ("augment: { large_views: 1 }", ["augment.large_views: 1 leaves no pair of large views"]),
        ("augment: { small_views: 2, small_size: 64 }", ["augment.small_size: 64 must be <= augment.large_size (28)"]),
        ("augment: { mean: [0.5, 0.5], std: [0.2, 0.2] }", ["augment.mean: [0.5, 0.5] must be null or 1 finite numbers", "augment.std: [0.2, 0.2] must be null or 1 numbers > 0"]),
        ("augment: { mean: [0.5] }", ["augment.mean/std: mean [0.5] and std null must be both set or both null"]),
        ("model: { width: 0 }", ["model.width: 0.0 must be a number in [1/64, 16]"]),
        ("model: { stem: tiny }", ["model.stem: 'tiny' is not one of imagenet, small, small-s2"]),
        ("model: { channel_reduction: fused }", ["model.channel_reduction: 'fused' is not one of direct, two_stage"]),
        ("model: { projector: { hidden: 0 } }", ["model.projector.hidden: 0 must be an integer >= 1"]),
        ("model: { predictor: { out: 128 } }", ["model.predictor.out: 128 must equal model.projector.out (256)"]),
        ("model: { backbone: 'onnx:' }", ["model.backbone: 'onnx:' needs a file path", "model.onnx_input: '' is required", "model.onnx_output: '' is required"]),
        ("model: { backbone: 'onnx:/m.onnx', onnx_input: x }", ["model.onnx_output: '' is required with an onnx: backbone"]),
        ("model: { onnx_input: x }", ["model.onnx_input: 'x' is only allowed with an onnx:<path> backbone"]),
        ("model: { bn_momentum: 1 }", ["model.bn_momentum: 1.0 must be a number in [0, 1)"]),
        ("optimizer: { base_lr: 0 }", ["optimizer.base_lr: 0.0 must be a number > 0"]),
        ("optimizer: { momentum: 1.0 }", ["optimizer.momentum: 1.0 must be a number in [0, 1)"]),
        ("optimizer: { betas: [0.9, 1.0] }", ["optimizer.betas: [0.9, 1.0] must be two numbers in [0, 1)"]),
        ("optimizer: { weight_decay: -1e-6 }", ["optimizer.weight_decay: -1E-06 must be a number >= 0"]),
        ("training: { batch_unlabelled: 0 }", ["training.batch_unlabelled: 0 must be an integer >= 1"]),
        ("training: { batch_labelled: -1 }", ["training.batch_labelled: -1 must be an integer >= 0"]),
        ("training: { epochs: 0 }", ["training.epochs: 0.0 must be a number > 0 when training.steps is 0"]),
        ("training: { steps: 100, warmup_steps: 200 }", ["training.warmup_steps: 200 must be <= training.steps (100)"]),
        ("training: { warmup_epochs: 200 }", ["training.warmup_epochs: 200.0 must be <= training.epochs (100.0)"]),
        ("training: { ema_base: 1.5 }", ["training.ema_base: 1.5 must be a probability in [0, 1]"]),
        ("training: { log_every: 0 }", ["training.log_every: 0 must be an integer >= 1"]),
        ("eval: { knn_temperature: 0 }", ["eval.knn_temperature: 0.0 must be a number > 0"]),
        ("eval: { batch_size: 0 }", ["eval.batch_size: 0 must be an integer >= 1"]),
        ("seed: -1", ["seed: -1 must be an integer >= 0"]),
        ("threads: -2", ["threads: -2 must be >= 0 (0 = auto: the processor count)"]),
        ("name: 'a/b'", ["name: 'a/b' must be non-empty"]),
    }.Select(c => new object[] { c.Yaml, c.Expected });

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachErrorNamesKeyValueAndAllowed(string yaml, string[] expected)
    {
        var config = ConfigLoader.FromYaml(yaml);
        var problems = ConfigValidator.Problems(config);
        Assert.Equal(expected.Length == 1 ? 1 : problems.Count, problems.Count);
        foreach (var e in expected) Assert.Contains(problems, p => p.Contains(e, StringComparison.Ordinal));
        var ex = Assert.Throws<ConfigException>(() => ConfigValidator.Validate(config));
        Assert.Equal(problems, ex.Problems);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:12")]
    [InlineData("cpu")]
    [InlineData("auto")]
    public void ValidDevices(string device) =>
        Assert.Empty(ConfigValidator.Problems(new SemPPLConfig { Device = device }));

    [Fact]
    public void NegativesAllAndBatchMinusOneAreValid()
    {
        Assert.Empty(ConfigValidator.Problems(ConfigLoader.FromYaml("objective: { negatives: all }")));
        Assert.Empty(ConfigValidator.Problems(ConfigLoader.FromYaml("objective: { negatives: 319 }")));
    }

    [Fact]
    public void ValidateListsAllProblemsAtOnce()
    {
        var c = ConfigLoader.FromYaml("device: gpu\noptimizer: { name: adam }\nmodel: { backbone: resnet19 }\ntraining: { ema_base: 2 }\n");
        var e = Assert.Throws<ConfigException>(() => ConfigValidator.Validate(c, "x.yaml"));
        Assert.Equal(4, e.Problems.Count);
        Assert.Contains("4 problems", e.Message);
        Assert.Contains("x.yaml", e.Message);
        foreach (var k in new[] { "device:", "optimizer.name:", "model.backbone:", "training.ema_base:" })
            Assert.Contains(e.Problems, p => p.StartsWith(k, StringComparison.Ordinal));
    }

    [Fact]
    public void NullSectionIsReported()
    {
        var c = new SemPPLConfig { Training = null! };
        Assert.Contains("training: a section must not be null", ConfigValidator.Problems(c));
    }

    [Fact]
    public void ValidateDoesNotTouchTheFileSystemButCheckPathsDoes()
    {
        var c = ConfigLoader.FromYaml("data:\n  dataset: folder\n  path: /nonexistent/train\n  test_path: /nonexistent/val\n  label_file: /nonexistent/1percent.txt\n" +
                                      "model:\n  backbone: onnx:/nonexistent/m.onnx\n  onnx_input: x\n  onnx_output: y\n  num_classes: 1000\n");
        Assert.Empty(ConfigValidator.Problems(c));
        var e = Assert.Throws<ConfigException>(() => ConfigValidator.CheckPaths(c));
        Assert.Equal(4, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.StartsWith("data.path: '/nonexistent/train' does not exist"));
        Assert.Contains(e.Problems, p => p.StartsWith("data.test_path: '/nonexistent/val' does not exist"));
        Assert.Contains(e.Problems, p => p.StartsWith("data.label_file: '/nonexistent/1percent.txt'"));
        Assert.Contains(e.Problems, p => p.StartsWith("model.backbone: 'onnx:/nonexistent/m.onnx'"));
    }

    [Fact]
    public void CheckPathsPassesForExistingFiles()
    {
        var dir = Directory.CreateTempSubdirectory("semppl-cfg-");
        try
        {
            var label = Path.Combine(dir.FullName, "1percent.txt"); File.WriteAllText(label, "a.JPEG\n");
            var onnx = Path.Combine(dir.FullName, "m.onnx"); File.WriteAllBytes(onnx, [1, 2, 3]);
            var c = new SemPPLConfig();
            c.Data.Dataset = "folder"; c.Data.Path = dir.FullName; c.Data.LabelsPerClass = null; c.Data.LabelFile = label;
            c.Model.Backbone = "onnx:" + onnx; c.Model.OnnxInput = "x"; c.Model.OnnxOutput = "y";
            ConfigValidator.Validate(c);
            ConfigValidator.CheckPaths(c);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void EmbeddedDatasetNeedsNoPath() => ConfigValidator.CheckPaths(new SemPPLConfig());
}

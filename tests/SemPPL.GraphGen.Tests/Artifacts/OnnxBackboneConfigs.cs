using SemPPL.Config;

namespace SemPPL.GraphGen.Tests.Artifacts;

/// <summary>Small configs with the tiny_backbone.onnx fixture as an onnx: backbone (tests/reference/make_tiny_backbone_fixture.py).</summary>
public static class OnnxBackboneConfigs
{
    public static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static string TinyBackbone => FixturePath("tiny_backbone.onnx");

    /// <summary>
    /// YAML of a tiny run: grey 28 px, L = 2 large views and S = 1 small 14 px view, B_u = 8, B_l = 4,
    /// 2 labels per class (20 labelled images), the fixture's "features" (before its fc layer) as the encoder output.
    /// </summary>
    public static string Yaml(string onnxPath) => $"""
        name: onnx-tiny
        seed: 3
        device: cpu
        data:
          dataset: fashion-mnist-embedded
          labels_per_class: 2
        augment:
          large_views: 2
          small_views: 1
          large_size: 28
          small_size: 14
          channels: 1
          saturation: 0.0
          hue: 0.0
          grayscale_probability: 0.0
          blur_probability: [0.0, 0.0]
          solarize_probability: [0.0, 0.0]
        model:
          backbone: "onnx:{onnxPath}"
          onnx_input: images
          onnx_output: features
          projector:
            hidden: 32
            out: 16
          predictor:
            hidden: 32
            out: 16
          num_classes: 10
        objective:
          negatives: 4
        optimizer:
          name: lars
          base_lr: 0.5
        training:
          batch_unlabelled: 8
          batch_labelled: 4
          steps: 5
          warmup_steps: 1
          log_every: 1
          checkpoint_every: 100
        """;

    public static SemPPLConfig MakeConfig(string onnxPath)
    {
        var c = ConfigLoader.FromYaml(Yaml(onnxPath), "onnx-tiny");
        ConfigValidator.Validate(c);
        return c;
    }

    public const int LabelledImages = 20;
}

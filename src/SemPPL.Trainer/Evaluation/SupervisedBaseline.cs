using System.Text.Json;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Export;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.Evaluation;

/// <summary>baseline.json of `semppl baseline`.</summary>
public sealed record BaselineSummary(double Top1, double Top5, int Steps, int Batch, double Lr, int LabelledImages, int TestImages);

/// <summary>
/// The supervised-only arm: the same network from the same initial weights, trained with softmax
/// cross-entropy on the labelled images alone (view-1 augmentations), for as many optimizer steps
/// as the SemPPL model gets in all (<see cref="DefaultSteps"/>), then scored on the test split.
/// </summary>
public static class SupervisedBaseline
{
    /// <summary>
    /// The SemPPL model's whole optimizer budget: its training steps plus its fine-tuning steps. Giving the
    /// supervised-only model all of it (not only the fine-tuning steps) is the comparison least favourable to SemPPL.
    /// </summary>
    public static int DefaultSteps(SemPPL.Config.SemPPLConfig config, int trainingSteps, int labelledImages) =>
        trainingSteps + EvaluationRunner.FineTuneSettingsFor(config, labelledImages).Steps;

    public static BaselineSummary Run(RunFolder folder, string? deviceOverride, int steps, Action<string> log)
    {
        var c = EvaluationContext.Open(folder, deviceOverride, log);
        using var factory = c.Factory;
        var initial = TensorFile.Read(Path.Combine(c.ArtifactDir, c.Manifest.InitialWeights)).Tensors.ToDictionary(t => t.Name, t => t.Tensor);
        int batch = Math.Min(c.Config.Eval.BatchSize, c.LabelledIndices.Count);
        var settings = new FineTuneSettings(steps, batch, c.Config.Eval.FineTuneLr);
        var tuned = FineTuner.Run(factory, c.Config, c.Loader, c.LabelledIndices, c.LabelledLabels, initial, settings);
        // eval.onnx also reads the projector, which supervised training leaves at its initial values.
        var weights = EvaluationRunner.Overlay(initial, tuned);
        using var extractor = new EmbeddingExtractor(factory, c.EvalGraph, weights, Math.Min(c.Config.Eval.BatchSize, 256), c.Loader.ImageShape);
        var (_, logits) = extractor.Run(c.TestLoader, c.TestIndices);
        var (top1, top5) = Accuracy.FromLogits(logits, (int)extractor.NumClasses, c.TestLabels);
        var summary = new BaselineSummary(top1, top5, steps, batch, settings.Lr, c.LabelledIndices.Count, c.TestIndices.Count);
        File.WriteAllText(Path.Combine(folder.Root, "baseline.json"), JsonSerializer.Serialize(summary, EvaluationRunner.Json));
        string kept = new TrainedModelStore(folder.Root).Save(new TrainedModel(ModelHead.Supervised,
            weights.Where(w => c.EvalGraph.ReadsState(w.Key)).ToDictionary(), top1, top5, c.TestIndices.Count, 0, c.Manifest.ConfigHash));
        log($"kept {ModelHead.Supervised.Describe()} in {kept} (semppl export --run {folder.Root})");
        log($"supervised-only baseline ({steps} steps, batch {batch}): top-1 {top1:P2}, top-5 {top5:P2}");
        return summary;
    }
}

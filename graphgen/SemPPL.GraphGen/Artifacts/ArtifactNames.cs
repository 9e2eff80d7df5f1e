namespace SemPPL.GraphGen.Artifacts;

/// <summary>File names of an artifact set and the graph I/O names the trainer binds by.</summary>
public static class ArtifactNames
{
    public const string TargetFile = "target.onnx";
    public const string TrainFile = "train.onnx";
    public const string OptimizerFile = "optimizer.onnx";
    public const string EmaFile = "ema.onnx";
    public const string QueueFile = "queue.onnx";
    public const string PseudoLabelFile = "pseudolabel.onnx";
    public const string EvalFile = "eval.onnx";
    public const string ManifestFile = "manifest.json";
    public const string InitialWeightsFile = "initial_weights.spt";

    public const string OnlinePrefix = "online.";
    public const string TargetPrefix = "target.";

    // Batch inputs uploaded from the host each step.
    public const string ViewsLarge = "views.large";
    public const string ViewsSmall = "views.small";
    public const string Labels = "labels";
    public const string Negatives = "negatives";
    public const string Uniforms = "uniforms";

    // Values passed between graphs on the device.
    public const string TargetEmbeddings = "target.embeddings";
    public const string TargetUnlabelled = "target.unlabelled";
    public const string PushEmbeddings = "push.embeddings";
    public const string PushLabels = "push.labels";
    public const string Positives = "positives";
    public const string PositiveMask = "positive_mask";
    public const string PseudoLabels = "pseudo_labels";
    public const string BatchLabels = "batch_labels";

    // Train outputs.
    public const string Loss = "loss";
    public const string LossAugmentation = "loss.augmentation";
    public const string LossSemanticPositive = "loss.semantic_positive";
    public const string LossInvariance = "loss.invariance";
    public const string LossClassifier = "loss.classifier";
    public const string ClassifierAccuracy = "accuracy.classifier";
    public const string GradPrefix = "grad.";
    public const string NewPrefix = "new.";

    // Eval graph.
    public const string Images = "images";
    public const string Embedding = "embedding";
    public const string Projection = "projection";
    public const string Logits = "logits";
}

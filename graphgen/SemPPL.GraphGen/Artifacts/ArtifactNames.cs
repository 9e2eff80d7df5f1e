namespace SemPPL.GraphGen.Artifacts;

/// <summary>
/// Every file and tensor name graphgen writes, in one place. Only graphgen reads these: the trainer binds by the
/// kinds and roles the manifest gives each input and output (<see cref="GraphContract"/>), never by a name.
/// </summary>
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
    /// <summary>Data-parallel sets: the job's batch index of each of the rank's images.</summary>
    public const string GlobalIndex = "batch.global_index";

    // Values passed between graphs on the device.
    public const string TargetEmbeddings = "target.embeddings";
    public const string TargetUnlabelled = "target.unlabelled";
    public const string PushEmbeddings = "push.embeddings";
    public const string PushLabels = "push.labels";
    public const string Positives = "positives";
    public const string PositiveMask = "positive_mask";
    public const string PseudoLabels = "pseudo_labels";
    public const string BatchLabels = "batch_labels";
    /// <summary>Data-parallel sets: the rank's images with semantic positives (sum of positive_mask).</summary>
    public const string PositiveCount = "positive_count";

    // Data-parallel sets: inputs filled by a collective over the ranks from a passed value.
    public const string TargetEmbeddingsGathered = "target.embeddings.gathered";
    public const string PushEmbeddingsGathered = "push.embeddings.gathered";
    public const string PushLabelsGathered = "push.labels.gathered";
    public const string PositiveCountSum = "positive_count.sum";

    // Train outputs.
    public const string Loss = "loss";
    public const string LossAugmentation = "loss.augmentation";
    public const string LossSemanticPositive = "loss.semantic_positive";
    public const string LossInvariance = "loss.invariance";
    public const string LossClassifier = "loss.classifier";
    public const string ClassifierAccuracy = "accuracy.classifier";
    public const string GradPrefix = "grad.";
    public const string NewPrefix = "new.";

    /// <summary>The output that carries state tensor <paramref name="name"/>'s value for the next step.</summary>
    public static string New(string name) => NewPrefix + name;
    public static string Online(string localName) => OnlinePrefix + localName;
    public static string Target(string localName) => TargetPrefix + localName;

    // Optimizer graphs: "lr", "step" (1-based, AdamW only), and per parameter n its value, gradient and slots.
    public const string LearningRate = "lr";
    public const string OptimizerStep = "step";
    public const string MomentumSlot = "momentum";
    public const string AdamMSlot = "m";
    public const string AdamVSlot = "v";
    public static string Param(string name) => $"param.{name}";
    public static string Grad(string name) => GradPrefix + name;
    public static string State(string slot, string name) => $"state.{slot}.{name}";
    public static string NewParam(string name) => New(Param(name));
    public static string NewState(string slot, string name) => New(State(slot, name));

    // EMA graph.
    public const string EmaDecay = "tau";

    // Queue state.
    public const string QueueEmbeddings = "queue.embeddings";
    public const string QueueLabels = "queue.labels";
    public const string QueuePointer = "queue.pointer";
    public const string QueueCount = "queue.count";

    // Eval graph.
    public const string Images = "images";
    public const string Embedding = "embedding";
    public const string Projection = "projection";
    public const string Logits = "logits";

    // Evaluation graphs built in memory (linear probe, fine-tuning).
    public const string Features = "features";
    public const string ProbeWeight = "probe.weight";
    public const string ProbeBias = "probe.bias";
    public const string Accuracy = "accuracy";
}

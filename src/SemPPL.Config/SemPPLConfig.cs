namespace SemPPL.Config;

// The whole run configuration as data (BYOL style: config is data, the step is a function of it).
// YAML keys are the snake_case form of these property names (e.g. BatchUnlabelled -> batch_unlabelled).
// Defaults and where each comes from (paper, BYOL recipe, or ours): docs/method.md.

public sealed class SemPPLConfig
{
    /// <summary>Run name; used for default output folders.</summary>
    public string Name { get; set; } = "run";
    /// <summary>One seed fixes every random choice (init, split, data order, augmentation, graph randomness).</summary>
    public int Seed { get; set; } = 0;
    /// <summary>auto | cpu | cuda | cuda:N</summary>
    public string Device { get; set; } = "auto";
    /// <summary>ONNX Runtime intra-op threads for CPU sessions (0 = auto: the processor count). Small networks run faster on one.</summary>
    public int Threads { get; set; } = 0;
    public DataConfig Data { get; set; } = new();
    public AugmentConfig Augment { get; set; } = new();
    public ModelConfig Model { get; set; } = new();
    public ObjectiveConfig Objective { get; set; } = new();
    public OptimizerConfig Optimizer { get; set; } = new();
    public TrainingConfig Training { get; set; } = new();
    public EvalConfig Eval { get; set; } = new();
}

public sealed class DataConfig
{
    /// <summary>fashion-mnist-embedded | fashion-mnist | idx | cifar10 | cifar100 | folder</summary>
    public string Dataset { get; set; } = "fashion-mnist-embedded";
    /// <summary>Training data path (idx: folder or images file; cifar: folder of binary batches; folder: root of class folders).</summary>
    public string? Path { get; set; }
    /// <summary>Test data path where the format keeps it apart (folder data sets); idx/cifar find their test files next to the training ones.</summary>
    public string? TestPath { get; set; }
    /// <summary>Labelled split: N labels per class (class-balanced, by seed) ...</summary>
    public int? LabelsPerClass { get; set; } = 10;
    /// <summary>... or a fraction of the training set (class-balanced) ...</summary>
    public double? LabelFraction { get; set; }
    /// <summary>... or a SimCLR-format subset file (one image file name a line).</summary>
    public string? LabelFile { get; set; }
    /// <summary>Use at most this many training images (0 = all); for quick runs.</summary>
    public int MaxTrainImages { get; set; } = 0;
    /// <summary>Decode + augment worker threads (0 = processor count).</summary>
    public int Workers { get; set; } = 0;
    /// <summary>Batches prepared ahead of the trainer.</summary>
    public int Prefetch { get; set; } = 4;
    /// <summary>Images with more pixels than this are skipped as decompression bombs.</summary>
    public long MaxPixels { get; set; } = 50_000_000;
}

public sealed class AugmentConfig
{
    /// <summary>L: large views per image (target and online).</summary>
    public int LargeViews { get; set; } = 2;
    /// <summary>S: small views per image (online only).</summary>
    public int SmallViews { get; set; } = 0;
    /// <summary>Side of a large view in pixels (ImageNet 224).</summary>
    public int LargeSize { get; set; } = 28;
    /// <summary>Side of a small view in pixels (ImageNet 96).</summary>
    public int SmallSize { get; set; } = 14;
    /// <summary>Input channels after decoding: 1 (grey) or 3 (RGB).</summary>
    public int Channels { get; set; } = 1;
    public double[] CropArea { get; set; } = [0.08, 1.0];
    public double[] SmallCropArea { get; set; } = [0.05, 0.14];
    public double[] CropAspect { get; set; } = [3.0 / 4.0, 4.0 / 3.0];
    public double FlipProbability { get; set; } = 0.5;
    public double Brightness { get; set; } = 0.4;
    public double Contrast { get; set; } = 0.4;
    public double Saturation { get; set; } = 0.2;
    public double Hue { get; set; } = 0.1;
    public double ColorJitterProbability { get; set; } = 0.8;
    public double GrayscaleProbability { get; set; } = 0.2;
    /// <summary>Blur probability for view 1 / view 2 (views alternate between the two parameter sets).</summary>
    public double[] BlurProbability { get; set; } = [1.0, 0.1];
    public double[] BlurSigma { get; set; } = [0.1, 2.0];
    /// <summary>Solarize probability for view 1 / view 2.</summary>
    public double[] SolarizeProbability { get; set; } = [0.0, 0.2];
    /// <summary>Per-channel normalisation; null = ImageNet mean/std for RGB, data set mean/std for grey.</summary>
    public double[]? Mean { get; set; }
    public double[]? Std { get; set; }
}

public sealed class ModelConfig
{
    /// <summary>resnet18|34|50|101|152|200, sk_resnet18|34|50|101|152, or onnx:&lt;path to a forward ONNX file&gt;.</summary>
    public string Backbone { get; set; } = "resnet18";
    /// <summary>Width multiplier (1, 2, 4, or fractional such as 0.25).</summary>
    public double Width { get; set; } = 1.0;
    /// <summary>imagenet (7x7/2 conv + 3x3/2 max-pool) | small (3x3/1 conv, no pool).</summary>
    public string Stem { get; set; } = KnownNames.StemImageNet;
    /// <summary>Zero-initialise the last BN gamma of each residual block.</summary>
    public bool ZeroInitResidual { get; set; } = false;
    /// <summary>onnx: backbones only: the input and feature-output value names in the file.</summary>
    public string? OnnxInput { get; set; }
    public string? OnnxOutput { get; set; }
    public MlpConfig Projector { get; set; } = new();
    public MlpConfig Predictor { get; set; } = new();
    public int NumClasses { get; set; } = 10;
    /// <summary>BatchNorm running-statistics decay.</summary>
    public double BnMomentum { get; set; } = 0.9;
    public double BnEpsilon { get; set; } = 1e-5;
    /// <summary>direct | two_stage: how training graphs reduce [N,C,H,W] tensors to per-channel values (BatchNorm
    /// statistics and backward sums). two_stage reshapes to [N,C,H*W] and reduces the last axis, then the first.</summary>
    public string ChannelReduction { get; set; } = KnownNames.ChannelReductionDirect;
}

public sealed class MlpConfig
{
    public int Hidden { get; set; } = 4096;
    public int Out { get; set; } = 256;
}

public sealed class ObjectiveConfig
{
    /// <summary>tau, the softmax temperature.</summary>
    public double Temperature { get; set; } = 0.2;
    /// <summary>Negatives per anchor: a number, or "all" (every other image of the batch).</summary>
    public string Negatives { get; set; } = "10";
    /// <summary>Weight of the semantic-positive loss (0 with lambda 0 = contrastive baseline).</summary>
    public double Alpha { get; set; } = 0.2;
    /// <summary>Weight of the invariance (KL) terms.</summary>
    public double Lambda { get; set; } = 0.1;
    /// <summary>Weight c of the contrastive terms.</summary>
    public double C { get; set; } = 0.3;
    /// <summary>k of the k-NN pseudo-labeller.</summary>
    public int KnnK { get; set; } = 1;
    /// <summary>N_sp: semantic positives drawn per image.</summary>
    public int SemanticPositives { get; set; } = 3;
    /// <summary>Queue capacity C: "auto" = labelled images x L, capped at 65,536; or a number.</summary>
    public string QueueCapacity { get; set; } = "auto";
    /// <summary>Weight of the online linear classifier's cross-entropy.</summary>
    public double ClassifierWeight { get; set; } = 1.0;
}

public sealed class OptimizerConfig
{
    /// <summary>lars | sgd | adamw</summary>
    public string Name { get; set; } = KnownNames.Lars;
    /// <summary>Learning rate = base_lr * (B_u + B_l) / 256.</summary>
    public double BaseLr { get; set; } = 0.3;
    public double Momentum { get; set; } = 0.9;
    public bool Nesterov { get; set; } = false;
    public double WeightDecay { get; set; } = 1e-6;
    /// <summary>LARS trust coefficient eta.</summary>
    public double TrustCoefficient { get; set; } = 1e-3;
    public double[] Betas { get; set; } = [0.9, 0.999];
    public double Epsilon { get; set; } = 1e-8;
}

public sealed class TrainingConfig
{
    /// <summary>B_u: unlabelled images per step.</summary>
    public int BatchUnlabelled { get; set; } = 256;
    /// <summary>B_l: labelled images per step; 0 = B_u / 4.</summary>
    public int BatchLabelled { get; set; } = 0;
    /// <summary>Epochs over the unlabelled stream (ignored when steps &gt; 0).</summary>
    public double Epochs { get; set; } = 100;
    /// <summary>Total optimizer steps; 0 = derived from epochs.</summary>
    public int Steps { get; set; } = 0;
    /// <summary>Linear learning-rate warm-up, in epochs of the unlabelled stream (used when warmup_steps is 0).</summary>
    public double WarmupEpochs { get; set; } = 10;
    /// <summary>Linear learning-rate warm-up in optimizer steps; 0 = derived from warmup_epochs. (Added for step-sized runs.)</summary>
    public int WarmupSteps { get; set; } = 0;
    /// <summary>
    /// BatchNorm groups over the whole job's batch (ghost batches): each group's images are normalised with their own
    /// statistics. 0 = one group per process (per-replica BatchNorm). A fixed value makes one process compute what that
    /// many ranks compute; it must be a multiple of the world size and divide both batch sizes.
    /// </summary>
    public int BnGroups { get; set; } = 0;
    /// <summary>tau_base of the target EMA.</summary>
    public double EmaBase { get; set; } = 0.996;
    public int LogEvery { get; set; } = 10;
    public int CheckpointEvery { get; set; } = 500;
    public int KeepCheckpoints { get; set; } = 3;
    /// <summary>Run `eval` at the end of `train`.</summary>
    public bool EvalAtEnd { get; set; } = true;
}

public sealed class EvalConfig
{
    /// <summary>k of the k-NN classifier (labelled training embeddings as the bank).</summary>
    public int KnnK { get; set; } = 20;
    public double KnnTemperature { get; set; } = 0.07;
    public int LinearEpochs { get; set; } = 100;
    public double LinearLr { get; set; } = 0.1;
    public int FineTuneEpochs { get; set; } = 30;
    public double FineTuneLr { get; set; } = 0.01;
    public int BatchSize { get; set; } = 256;
}

using SemPPL.Config;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

public enum ResNetBlock
{
    /// <summary>Two 3x3 convs (ResNet-18/34), expansion 1.</summary>
    Basic,
    /// <summary>1x1 -> 3x3 (carries the stride, torchvision v1.5) -> 1x1, expansion 4 (ResNet-50 and up).</summary>
    Bottleneck,
}

/// <summary>
/// ResNet v1 in torchvision's layout (parameter names: conv1.weight, bn1.weight, layer1.0.conv1.weight,
/// layer2.0.downsample.0.weight, ... under "encoder."), without the final fc: the output is the
/// global-average-pooled feature [B, FeatureDim].
/// <list type="bullet">
/// <item>Width multiplier (SimCLR style): every channel count c becomes max(1, round(c * width)), the stem included.</item>
/// <item>Stem "imagenet": 7x7/2 conv pad 3 + BN + ReLU + 3x3/2 max-pool pad 1; "small": 3x3/1 conv pad 1 + BN + ReLU;
/// "small-s2": 3x3/2 conv pad 1 + BN + ReLU (28-32 px images at half resolution from layer1 on: about 4x less compute).</item>
/// <item>Selective kernels (SkRatio &gt; 0, as SimCLRv2 with sk_ratio 0.0625): the 3x3 conv + BN + ReLU of each
/// Bottleneck (conv2), or the first 3x3 conv of each Basic block (conv1), becomes an SK conv, see <see cref="SkConv"/>.
/// SimCLRv2's ResNet-D stem and avg-pool shortcut are not used: the stem and shortcuts stay torchvision's.</item>
/// <item>Zero-init residual: the last BN gamma of each block (bn2 for Basic, bn3 for Bottleneck) is marked ZeroInit.</item>
/// </list>
/// </summary>
public sealed class ResNet : IBackbone
{
    public const string EncoderScope = SemPPLNetwork.Encoder + ".";

    public ResNet(string name, ResNetBlock block, int[] layers, double width = 1.0, string stem = KnownNames.StemImageNet,
        long inputChannels = 3, bool zeroInitResidual = false, double skRatio = 0.0)
    {
        if (layers.Length != 4 || layers.Any(n => n < 1)) throw new ArgumentException($"{name}: layers must be 4 positive block counts");
        if (!(width > 0) || double.IsInfinity(width)) throw new ArgumentException($"{name}: width multiplier must be positive, got {width}");
        if (!KnownNames.Stems.Contains(stem)) throw new ArgumentException($"{name}: unknown stem '{stem}'; known stems: {string.Join(", ", KnownNames.Stems)}");
        if (inputChannels < 1) throw new ArgumentException($"{name}: input channels must be positive, got {inputChannels}");
        if (skRatio < 0) throw new ArgumentException($"{name}: sk ratio must be >= 0");
        Name = name;
        Block = block;
        Layers = (int[])layers.Clone();
        Width = width;
        Stem = stem;
        InputChannels = inputChannels;
        ZeroInitResidual = zeroInitResidual;
        SkRatio = skRatio;
        FeatureDim = Expansion * Channels(512);
    }

    public string Name { get; }
    public ResNetBlock Block { get; }
    public IReadOnlyList<int> Layers { get; }
    public double Width { get; }
    public string Stem { get; }
    public long InputChannels { get; }
    public bool ZeroInitResidual { get; }
    /// <summary>0 = plain ResNet; SimCLRv2 uses 0.0625.</summary>
    public double SkRatio { get; }
    /// <summary>Minimum width of the SK attention bottleneck (SimCLRv2's min_dim).</summary>
    public const long SkMinDim = 32;
    public long FeatureDim { get; }
    public long Expansion => Block == ResNetBlock.Basic ? 1 : 4;

    /// <summary>A channel count scaled by the width multiplier: max(1, round(c * width)).</summary>
    public long Channels(long c) => Math.Max(1L, (long)Math.Round(c * Width, MidpointRounding.AwayFromZero));

    public Value Forward(ModelContext ctx, Value images)
    {
        if (images.Rank != 4 || images.Shape[1] != InputChannels)
            throw ShapeException.For(Name, $"images must be [B, {InputChannels}, H, W]", images);
        var g = ctx.Graph;
        return ctx.InScope(EncoderScope, () =>
        {
            Value x;
            long stemChannels = Channels(64);
            if (Stem == KnownNames.StemImageNet)
            {
                x = g.Relu(ctx.BatchNorm(ctx.Conv2d(images, stemChannels, 7, 2, 3, "conv1"), "bn1"));
                x = g.MaxPool(x, [3, 3], [2, 2], [1, 1, 1, 1]);
            }
            else
            {
                long stride = Stem == KnownNames.StemSmallStride2 ? 2 : 1;
                x = g.Relu(ctx.BatchNorm(ctx.Conv2d(images, stemChannels, 3, stride, 1, "conv1"), "bn1"));
            }
            long[] planes = [64, 128, 256, 512];
            for (int stage = 0; stage < 4; stage++)
            {
                long p = Channels(planes[stage]);
                for (int b = 0; b < Layers[stage]; b++)
                {
                    long stride = stage > 0 && b == 0 ? 2 : 1;
                    var input = x;
                    x = ctx.InScope($"layer{stage + 1}.{b}.", () => Block == ResNetBlock.Basic
                        ? BasicBlock(ctx, input, p, stride)
                        : BottleneckBlock(ctx, input, p, stride));
                }
            }
            return g.Flatten(g.GlobalAveragePool(x), 1);
        });
    }

    private Value Shortcut(ModelContext ctx, Value x, long outChannels, long stride)
    {
        if (stride == 1 && x.Shape[1] == outChannels) return x;
        return ctx.BatchNorm(ctx.Conv2d(x, outChannels, 1, stride, 0, "downsample.0"), "downsample.1");
    }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); conv1 carries the stride.</summary>
    public Value BasicBlock(ModelContext ctx, Value x, long planes, long stride)
    {
        var g = ctx.Graph;
        var y = SkRatio > 0
            ? SkConv(ctx, x, planes, stride, SkRatio, "conv1", "bn1")
            : g.Relu(ctx.BatchNorm(ctx.Conv2d(x, planes, 3, stride, 1, "conv1"), "bn1"));
        y = ctx.BatchNorm(ctx.Conv2d(y, planes, 3, 1, 1, "conv2"), "bn2", zeroInitScale: ZeroInitResidual);
        return g.Relu(g.Add(y, Shortcut(ctx, x, planes, stride)));
    }

    /// <summary>relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)); the 3x3 conv2 carries the stride.</summary>
    public Value BottleneckBlock(ModelContext ctx, Value x, long planes, long stride)
    {
        var g = ctx.Graph;
        var y = g.Relu(ctx.BatchNorm(ctx.Conv2d(x, planes, 1, 1, 0, "conv1"), "bn1"));
        y = SkRatio > 0
            ? SkConv(ctx, y, planes, stride, SkRatio, "conv2", "bn2")
            : g.Relu(ctx.BatchNorm(ctx.Conv2d(y, planes, 3, stride, 1, "conv2"), "bn2"));
        y = ctx.BatchNorm(ctx.Conv2d(y, planes * 4, 1, 1, 0, "conv3"), "bn3", zeroInitScale: ZeroInitResidual);
        return g.Relu(g.Add(y, Shortcut(ctx, x, planes * 4, stride)));
    }

    /// <summary>Width of the SK attention bottleneck: max(int(filters * ratio), 32), as SimCLRv2.</summary>
    public static long SkMidDim(long filters, double skRatio) => Math.Max((long)(filters * skRatio), SkMinDim);

    /// <summary>
    /// Selective-kernel conv (SimCLRv2 sk_conv2d), replacing conv + BN + ReLU:
    /// one 3x3 conv {conv}.weight with 2*filters outputs (carries the stride) -> BN {bn} -> ReLU -> split into
    /// two branches of <paramref name="filters"/> channels; fuse u = b0 + b1; s = global average pool(u);
    /// z = ReLU(BN sk.bn(1x1 conv sk.fc1(s))) with SkMidDim units; m = 1x1 conv sk.fc2(z) with 2*filters units,
    /// viewed as [B, 2, filters]; a = softmax over the 2 branches per channel; output a0 * b0 + a1 * b1.
    /// The 1x1 convs have no bias (as SimCLRv2).
    /// </summary>
    public static Value SkConv(ModelContext ctx, Value x, long filters, long stride, double skRatio, string conv, string bn)
    {
        var g = ctx.Graph;
        var y = g.Relu(ctx.BatchNorm(ctx.Conv2d(x, 2 * filters, 3, stride, 1, conv), bn));
        var branches = g.Split(y, 1, filters, filters);
        var fused = g.Add(branches[0], branches[1]);
        var s = g.GlobalAveragePool(fused);                                   // [B, F, 1, 1]
        var z = g.Relu(ctx.BatchNorm(ctx.Conv2d(s, SkMidDim(filters, skRatio), 1, 1, 0, "sk.fc1"), "sk.bn"));
        var m = ctx.Conv2d(z, 2 * filters, 1, 1, 0, "sk.fc2");                // [B, 2F, 1, 1]
        var a = g.Softmax(g.Reshape(m, 0, 2, filters, 1, 1), 1);              // [B, 2, F, 1, 1]
        var weights = g.Split(a, 1, 1, 1);
        var a0 = g.Reshape(weights[0], 0, filters, 1, 1);
        var a1 = g.Reshape(weights[1], 0, filters, 1, 1);
        return g.Add(g.Mul(branches[0], a0), g.Mul(branches[1], a1));
    }
}

namespace SemPPL.Benchmarks.Cuda;

/// <summary>A BatchNorm input shape of ResNet-50 and how many of its 53 BatchNorm layers have it.</summary>
public sealed record BnShape(long N, long C, long H, int Layers)
{
    public long[] Shape => [N, C, H, H];
    public long Bytes => N * C * H * H * sizeof(float);
    public string Label => $"[{N},{C},{H},{H}] x{Layers}";
}

/// <summary>A Conv of ResNet-50 whose weight gradient is timed: x [N, C, H, H], w [M, C, k, k], stride, symmetric pad.</summary>
public sealed record ConvShape(string Kind, long N, long C, long H, long M, long K, long Stride, long Pad, int Layers)
{
    public long[] X => [N, C, H, H];
    public long[] W => [M, C, K, K];
    public long Out => (H + 2 * Pad - K) / Stride + 1;
    public string Label => $"{Kind} x[{N},{C},{H},{H}] w[{M},{C},{K},{K}] s{Stride} x{Layers}";
}

/// <summary>
/// ResNet-50 (torchvision layout: stride on the 3x3 of a bottleneck) at side <c>size</c> and <c>n</c> images per
/// forward pass (the step runs each view separately: n = B_u + B_l). Every one of the 53 BatchNorm layers is one of
/// <see cref="BatchNorms"/>; the counts weight per-layer times into a per-network total.
/// </summary>
public sealed class ResNet50Shapes(long n, long size)
{
    public long N { get; } = n;
    public long Size { get; } = size;

    private long At(int div) => Math.Max(1, Size / div);

    public IReadOnlyList<BnShape> BatchNorms =>
    [
        new(N, 64, At(2), 1),                          // stem
        new(N, 64, At(4), 6), new(N, 256, At(4), 4),   // layer1: 3 x (64, 64, 256) + downsample
        new(N, 128, At(4), 1),                         // layer2.0 conv1 (before the stride)
        new(N, 128, At(8), 7), new(N, 512, At(8), 5),  // layer2
        new(N, 256, At(8), 1),
        new(N, 256, At(16), 11), new(N, 1024, At(16), 7),
        new(N, 512, At(16), 1),
        new(N, 512, At(32), 5), new(N, 2048, At(32), 4),
    ];

    /// <summary>The conv kinds the CUDA work chooses a weight-gradient form for (counts: layers of that geometry).</summary>
    public IReadOnlyList<ConvShape> Convs =>
    [
        new("7x7/2 stem", N, 3, Size, 64, 7, 2, 3, 1),
        new("1x1", N, 256, At(4), 64, 1, 1, 0, 2),
        new("1x1", N, 256, At(16), 1024, 1, 1, 0, 6),
        new("1x1/2 downsample", N, 256, At(4), 512, 1, 2, 0, 1),
        new("3x3", N, 64, At(4), 64, 3, 1, 1, 3),
        new("3x3", N, 256, At(16), 256, 3, 1, 1, 5),
        new("3x3/2", N, 128, At(4), 128, 3, 2, 1, 1),
    ];
}

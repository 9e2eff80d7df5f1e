namespace SemPPL.Data.Pipeline;

/// <summary>
/// One training step's input. Buffers are pinned (GC.AllocateArray pinned) and reused: dispose
/// (or <see cref="Return"/>) the batch once its data has been uploaded.
/// Layouts: <see cref="Large"/> [L, B, C, H, W], <see cref="Small"/> [S, B, C, h, w] with
/// B = B_u + B_l, unlabelled images first, then labelled.
/// </summary>
public sealed class Batch : IDisposable
{
    private readonly Action<Batch>? _return;

    internal Batch(int largeViews, int smallViews, int bu, int bl, int channels, int largeSize, int smallSize, Action<Batch>? onReturn)
    {
        LargeViews = largeViews; SmallViews = smallViews; BatchUnlabelled = bu; BatchLabelled = bl;
        Channels = channels; LargeSize = largeSize; SmallSize = smallSize; _return = onReturn;
        int b = bu + bl;
        Large = GC.AllocateArray<float>(checked(largeViews * b * channels * largeSize * largeSize), pinned: true);
        Small = smallViews == 0 ? [] : GC.AllocateArray<float>(checked(smallViews * b * channels * smallSize * smallSize), pinned: true);
        Labels = GC.AllocateArray<long>(bl, pinned: true);
        UnlabelledTrueLabels = GC.AllocateArray<long>(bu, pinned: true);
        Indices = new int[b];
        LabelledEpochs = new long[bl];
    }

    /// <summary>[L, B, C, H, W] with H = W = LargeSize.</summary>
    public float[] Large { get; }
    /// <summary>[S, B, C, h, w] with h = w = SmallSize; empty when S = 0.</summary>
    public float[] Small { get; }
    /// <summary>[B_l] labels of the labelled part.</summary>
    public long[] Labels { get; }
    /// <summary>[B_u] true labels of the unlabelled part (-1 where unknown), for pseudo-label accuracy.</summary>
    public long[] UnlabelledTrueLabels { get; }
    /// <summary>[B_l] the labelled epoch of each labelled slot (the pipeline's scratch; keyed augmentation draws).</summary>
    internal long[] LabelledEpochs { get; }
    /// <summary>[B] training-set indices (after any bad-image replacement).</summary>
    public int[] Indices { get; }
    public long Step { get; internal set; }
    /// <summary>Unlabelled and labelled epoch of this step.</summary>
    public long UnlabelledEpoch { get; internal set; }
    public long LabelledEpoch { get; internal set; }

    public int LargeViews { get; }
    public int SmallViews { get; }
    public int BatchUnlabelled { get; }
    public int BatchLabelled { get; }
    public int BatchSize => BatchUnlabelled + BatchLabelled;
    public int Channels { get; }
    public int LargeSize { get; }
    public int SmallSize { get; }

    public long[] LargeShape => [LargeViews, BatchSize, Channels, LargeSize, LargeSize];
    public long[] SmallShape => [SmallViews, BatchSize, Channels, SmallSize, SmallSize];

    /// <summary>The [C, H, W] slice of large view <paramref name="view"/> of batch image <paramref name="image"/>.</summary>
    public Span<float> LargeView(int view, int image)
    {
        int n = Channels * LargeSize * LargeSize;
        return Large.AsSpan((view * BatchSize + image) * n, n);
    }

    public Span<float> SmallView(int view, int image)
    {
        int n = Channels * SmallSize * SmallSize;
        return Small.AsSpan((view * BatchSize + image) * n, n);
    }

    /// <summary>Hands the buffers back to the pipeline's pool.</summary>
    public void Return() => _return?.Invoke(this);
    public void Dispose() => Return();
}

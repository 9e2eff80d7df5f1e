using SemPPL.Data.Random;

namespace SemPPL.Data.Pipeline;

/// <summary>
/// Which images make up step k, as a pure function of (seed, k).
/// Unlabelled: a permutation of the whole training set per epoch from (seed, epoch); drop-last,
/// so an epoch has floor(N / B_u) steps. Labelled: the split's items in a permutation per labelled
/// epoch, read as one endless stream B_l at a time, so the labelled stream cycles on its own
/// (several labelled epochs per unlabelled one when the split is small) and every labelled item
/// is used equally often.
/// </summary>
public sealed class BatchSampler
{
    private readonly int _n;
    private readonly int[] _labelled;
    private readonly long _seed;
    private readonly Dictionary<(RngStream, long), int[]> _perms = new();
    private readonly Queue<(RngStream, long)> _order = new();

    public BatchSampler(int trainCount, int[] labelledIndices, int batchUnlabelled, int batchLabelled, long seed)
    {
        if (batchUnlabelled < 0 || batchLabelled < 0 || batchUnlabelled + batchLabelled == 0)
            throw new Datasets.DataConfigException($"training.batch_unlabelled ({batchUnlabelled}) and batch_labelled ({batchLabelled}) must be >= 0 and not both 0.");
        if (batchUnlabelled > trainCount)
            throw new Datasets.DataConfigException($"training.batch_unlabelled {batchUnlabelled} is larger than the {trainCount} training images.");
        if (batchLabelled > 0 && labelledIndices.Length == 0)
            throw new Datasets.DataConfigException("the labelled split is empty but training.batch_labelled > 0.");
        _n = trainCount; _labelled = labelledIndices; _seed = seed;
        BatchUnlabelled = batchUnlabelled; BatchLabelled = batchLabelled;
    }

    public int BatchUnlabelled { get; }
    public int BatchLabelled { get; }
    /// <summary>Steps per unlabelled epoch (drop-last).</summary>
    public int StepsPerEpoch => BatchUnlabelled == 0 ? Math.Max(1, _labelled.Length / Math.Max(1, BatchLabelled)) : _n / BatchUnlabelled;

    public long UnlabelledEpoch(long step) => step / StepsPerEpoch;
    public long LabelledEpochAt(long position) => position / _labelled.Length;

    /// <summary>
    /// Fills training-set indices for step <paramref name="step"/>: unlabelled then labelled; also the epoch of each labelled
    /// slot. The spans may hold a part of the step's lists (a rank's): unlabelled slots from <paramref name="unlabelledFrom"/>,
    /// labelled slots from <paramref name="labelledFrom"/>, as many as the spans hold.
    /// </summary>
    public void Indices(long step, Span<int> unlabelled, Span<int> labelled, Span<long> labelledEpochs, int unlabelledFrom = 0, int labelledFrom = 0)
    {
        if (unlabelledFrom + unlabelled.Length > BatchUnlabelled || labelledFrom + labelled.Length > BatchLabelled)
            throw new ArgumentOutOfRangeException(nameof(step), "the slots asked for lie beyond the step's batch");
        if (unlabelled.Length > 0)
        {
            long epoch = UnlabelledEpoch(step);
            int pos = (int)(step % StepsPerEpoch) * BatchUnlabelled + unlabelledFrom;
            Perm(RngStream.UnlabelledOrder, epoch, _n).AsSpan(pos, unlabelled.Length).CopyTo(unlabelled);
        }
        for (int j = 0; j < labelled.Length; j++)
        {
            long p = step * BatchLabelled + labelledFrom + j;
            long e = p / _labelled.Length;
            labelled[j] = _labelled[Perm(RngStream.LabelledOrder, e, _labelled.Length)[(int)(p % _labelled.Length)]];
            labelledEpochs[j] = e;
        }
    }

    private int[] Perm(RngStream stream, long epoch, int n)
    {
        lock (_perms)
        {
            if (_perms.TryGetValue((stream, epoch), out var p)) return p;
            p = CounterRng.Permutation(n, CounterRng.For(_seed, stream, epoch));
            _perms[(stream, epoch)] = p; _order.Enqueue((stream, epoch));
            if (_order.Count > 8) _perms.Remove(_order.Dequeue());   // a few epochs cover any prefetch window
            return p;
        }
    }
}

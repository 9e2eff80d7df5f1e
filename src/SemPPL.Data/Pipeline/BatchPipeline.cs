using System.Collections.Concurrent;
using System.Threading.Channels;
using SemPPL.Config;
using SemPPL.Data.Augmentation;
using SemPPL.Data.Datasets;
using SemPPL.Data.Random;
using SemPPL.Data.Splits;

namespace SemPPL.Data.Pipeline;

/// <summary>Batch sizes (the whole job's), seed and threading of a <see cref="BatchPipeline"/>.</summary>
public sealed record PipelineOptions(int BatchUnlabelled, int BatchLabelled, long Seed, int Workers = 0, int Prefetch = 4)
{
    /// <summary>The rank of a data-parallel job whose part of each batch the pipeline builds (default: the whole batch).</summary>
    public int Rank { get; init; }
    public int WorldSize { get; init; } = 1;

    public RankSlice Slice => new(Rank, WorldSize, BatchUnlabelled, BatchLabelled);

    /// <summary>From the run config (training.batch_labelled 0 means B_u / 4).</summary>
    public static PipelineOptions From(SemPPLConfig cfg) => new(
        cfg.Training.BatchUnlabelled,
        cfg.Training.BatchLabelled > 0 ? cfg.Training.BatchLabelled : Math.Max(1, cfg.Training.BatchUnlabelled / 4),
        cfg.Seed, cfg.Data.Workers, cfg.Data.Prefetch);
}

/// <summary>
/// Decodes and augments batches on worker threads into pooled pinned buffers. Batch k is a pure
/// function of (seed, k): image choice from <see cref="BatchSampler"/>, every augmentation draw
/// from a counter RNG keyed by (seed, stream, epoch, image index, view), so the thread count and
/// timing never change the pixels. Use <see cref="GetBatch"/> for one step or
/// <see cref="Stream"/> for a prefetching sequence starting at any step.
/// </summary>
public sealed class BatchPipeline : IDisposable
{
    private readonly IImageDataset _data;
    private readonly AugmentConfig _aug;
    private readonly ViewParams[] _largeParams, _smallParams;
    private readonly int[] _labelled;
    private readonly ConcurrentBag<Batch> _pool = new();
    private readonly ConcurrentBag<WorkerScratch> _scratch = new();
    private readonly int _workers;
    private readonly int _prefetch;
    private volatile bool _disposed;

    public BatchPipeline(IImageDataset train, LabelledSplit split, AugmentConfig augment, PipelineOptions options, DataDiagnostics? diagnostics = null)
    {
        if (augment.Channels is not (1 or 3)) throw new DataConfigException($"augment.channels must be 1 or 3, got {augment.Channels}.");
        if (augment.LargeViews < 1) throw new DataConfigException($"augment.large_views must be at least 1, got {augment.LargeViews}.");
        if (augment.SmallViews < 0) throw new DataConfigException($"augment.small_views must be >= 0, got {augment.SmallViews}.");
        _data = train; _aug = augment; Options = options; _labelled = split.Indices;
        try { options.Slice.Validate(); }
        catch (ArgumentException e) { throw new DataConfigException(e.Message); }
        Diagnostics = diagnostics ?? (train as ImageFolderDataset)?.Diagnostics ?? new DataDiagnostics();
        Sampler = new BatchSampler(train.Count, split.Indices, options.BatchUnlabelled, options.BatchLabelled, options.Seed);
        _workers = options.Workers > 0 ? options.Workers : Environment.ProcessorCount;
        _prefetch = Math.Max(1, options.Prefetch);
        (Mean, Std) = Normalisation(train, augment);
        _largeParams = [ViewParams.From(augment, 0, false, Mean, Std), ViewParams.From(augment, 1, false, Mean, Std)];
        _smallParams = [ViewParams.From(augment, 0, true, Mean, Std), ViewParams.From(augment, 1, true, Mean, Std)];
    }

    public PipelineOptions Options { get; }
    public BatchSampler Sampler { get; }
    public DataDiagnostics Diagnostics { get; }
    /// <summary>Normalisation actually used (config, ImageNet for RGB, or the data set's own for grey).</summary>
    public double[] Mean { get; }
    public double[] Std { get; }
    public int StepsPerEpoch => Sampler.StepsPerEpoch;

    public static readonly double[] ImageNetMean = [0.485, 0.456, 0.406];
    public static readonly double[] ImageNetStd = [0.229, 0.224, 0.225];

    private static (double[], double[]) Normalisation(IImageDataset train, AugmentConfig a)
    {
        if (a.Mean is not null && a.Std is not null) return (a.Mean, a.Std);
        if (a.Channels == 3) return (ImageNetMean, ImageNetStd);
        if (train.Channels == 1) return DatasetStats.Compute(train);
        var (m, s) = DatasetStats.Compute(train);   // RGB data trained as grey: luma of the channel stats (approximation)
        return ([0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2]], [0.299 * s[0] + 0.587 * s[1] + 0.114 * s[2]]);
    }

    /// <summary>Builds batch <paramref name="step"/> now, on the calling thread plus workers. Dispose it when done.</summary>
    public Batch GetBatch(long step)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var batch = Rent();
        Fill(batch, step);
        return batch;
    }

    /// <summary>
    /// Batches startStep, startStep+1, ... prepared ahead by a producer task (at most Prefetch
    /// waiting). Each yielded batch must be disposed by the consumer. Stops when enumeration ends.
    /// </summary>
    public IEnumerable<Batch> Stream(long startStep, long endStep = long.MaxValue, CancellationToken cancellation = default)
    {
        var channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(_prefetch) { SingleReader = true, SingleWriter = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var producer = Task.Run(async () =>
        {
            try
            {
                for (long s = startStep; s < endStep && !cts.IsCancellationRequested; s++)
                {
                    var b = GetBatch(s);
                    try { await channel.Writer.WriteAsync(b, cts.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { b.Return(); break; }
                }
                channel.Writer.TryComplete();
            }
            catch (Exception e) { channel.Writer.TryComplete(e); }
        });
        try
        {
            while (true)
            {
                Batch? next;
                try
                {
                    if (!channel.Reader.WaitToReadAsync(cts.Token).AsTask().GetAwaiter().GetResult()) break;
                    if (!channel.Reader.TryRead(out next)) continue;
                }
                catch (OperationCanceledException) { break; }
                yield return next;
            }
            channel.Reader.Completion.GetAwaiter().GetResult();   // surfaces producer errors
        }
        finally
        {
            cts.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
            while (channel.Reader.TryRead(out var left)) left.Return();
        }
    }

    private Batch Rent()
    {
        if (_pool.TryTake(out var b)) return b;
        var slice = Options.Slice;
        return new Batch(_aug.LargeViews, _aug.SmallViews, slice.BatchUnlabelled, slice.BatchLabelled, _aug.Channels, _aug.LargeSize, _aug.SmallSize,
            r => { if (!_disposed) _pool.Add(r); });
    }

    private sealed class WorkerScratch
    {
        public byte[] Decoded = new byte[4096];
        public byte[] Converted = [];
        public readonly ViewAugmenter Augmenter = new();
    }

    private void Fill(Batch batch, long step)
    {
        var slice = Options.Slice;
        int bu = slice.BatchUnlabelled, bl = slice.BatchLabelled, b = bu + bl;
        batch.Step = step;
        var epochs = batch.LabelledEpochs;
        // This rank's part of the job's lists (all of them in one process).
        Sampler.Indices(step, batch.Indices.AsSpan(0, bu), batch.Indices.AsSpan(bu, bl), epochs,
            unlabelledFrom: slice.Rank * bu, labelledFrom: slice.Rank * bl);
        long uEpoch = bu > 0 ? Sampler.UnlabelledEpoch(step) : 0;
        batch.UnlabelledEpoch = uEpoch;
        batch.LabelledEpoch = bl > 0 ? epochs[0] : 0;

        Parallel.For(0, b, new ParallelOptions { MaxDegreeOfParallelism = _workers },
            () => _scratch.TryTake(out var s) ? s : new WorkerScratch(),
            (j, _, scratch) =>
            {
                bool isLabelled = j >= bu;
                long epoch = isLabelled ? epochs[j - bu] : uEpoch;
                FillImage(batch, step, j, isLabelled, epoch, scratch);
                return scratch;
            },
            s => _scratch.Add(s));

        for (int j = 0; j < bu; j++) batch.UnlabelledTrueLabels[j] = _data.GetLabel(batch.Indices[j]);
        for (int j = 0; j < bl; j++) batch.Labels[j] = _data.GetLabel(batch.Indices[bu + j]);
    }

    private void FillImage(Batch batch, long step, int j, bool isLabelled, long epoch, WorkerScratch s)
    {
        int index = batch.Indices[j];
        int w = 0, h = 0;
        for (int attempt = 0; ; attempt++)
        {
            if (_data.TryDecode(index, ref s.Decoded, out w, out h, out _)) break;
            // Bad file at decode time: substitute a deterministic other image (from the labelled
            // split for labelled slots, so the label stays a true one) and count it.
            Diagnostics.CountReplacement();
            if (attempt >= 100) throw new InvalidOperationException($"{_data.Name}: 100 consecutive images failed to decode near step {step}; see the skipped-file warnings.");
            var rr = CounterRng.For(Options.Seed, RngStream.Replacement, step, Options.Slice.JobPosition(j), attempt);
            index = isLabelled ? _labelled[rr.NextInt(_labelled.Length)] : rr.NextInt(_data.Count);
        }
        batch.Indices[j] = index;

        ReadOnlySpan<byte> pixels = s.Decoded;
        if (_data.Channels != _aug.Channels)
        {
            int need = w * h * _aug.Channels;
            if (s.Converted.Length < need) s.Converted = new byte[need];
            PixelOps.ConvertChannels(s.Decoded, _data.Channels, s.Converted, _aug.Channels, w * h);
            pixels = s.Converted;
        }
        var stream = isLabelled ? RngStream.AugmentLabelled : RngStream.AugmentUnlabelled;
        // Views alternate parameter sets: even view index -> view-1 set, odd -> view-2 set.
        for (int v = 0; v < _aug.LargeViews; v++)
        {
            var rng = CounterRng.For(Options.Seed, stream, epoch, index, v);
            s.Augmenter.Augment(pixels, w, h, _largeParams[v & 1], ref rng, batch.LargeView(v, j));
        }
        for (int v = 0; v < _aug.SmallViews; v++)
        {
            var rng = CounterRng.For(Options.Seed, stream, epoch, index, _aug.LargeViews + v);
            s.Augmenter.Augment(pixels, w, h, _smallParams[v & 1], ref rng, batch.SmallView(v, j));
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _pool.Clear();
        _scratch.Clear();
    }
}

using SemPPL.Data.Augmentation;
using SemPPL.Data.Datasets;
using SemPPL.Data.Random;
using SemPPL.Data.Pipeline;
using SemPPL.Config;

namespace SemPPL.Trainer.Evaluation;

/// <summary>
/// Decodes and preprocesses labelled images for evaluation: a deterministic full-image view
/// (no augmentation) for embedding and testing, or the training view-1 augmentations for fine-tuning,
/// with the same normalisation the training pipeline used. CHW floats, [n, C, S, S].
/// </summary>
public sealed class ImageBatchLoader
{
    private readonly IImageDataset _data;
    private readonly ViewParams _plain, _augmented;
    private readonly int _channels, _size;
    private readonly long _seed;
    private readonly ThreadLocal<(ViewAugmenter Aug, byte[] Decoded, byte[] Converted)> _scratch =
        new(() => (new ViewAugmenter(), new byte[4096], []));

    public ImageBatchLoader(IImageDataset data, AugmentConfig augment, double[] mean, double[] std, long seed)
    {
        _data = data; _seed = seed;
        _channels = augment.Channels; _size = augment.LargeSize;
        _augmented = ViewParams.From(augment, 0, false, mean, std);
        _plain = ViewParams.Evaluation(_size, _channels, _augmented.Mean, _augmented.Std);
    }

    public int ImageFloats => _channels * _size * _size;
    public long[] ImageShape => [_channels, _size, _size];

    /// <summary>Fills <paramref name="dst"/> with images <paramref name="indices"/>; undecodable images become zeros (counted by the data set's diagnostics).</summary>
    public void Load(IReadOnlyList<int> indices, Span<float> dst, bool augment, long epoch = 0)
    {
        if (dst.Length < indices.Count * ImageFloats) throw new ArgumentException("destination too small");
        unsafe
        {
            fixed (float* p = dst)
            {
                nint basePtr = (nint)p;
                Parallel.For(0, indices.Count, i =>
                {
                    var span = new Span<float>((float*)basePtr + (long)i * ImageFloats, ImageFloats);
                    LoadOne(indices[i], span, augment, epoch);
                });
            }
        }
    }

    private void LoadOne(int index, Span<float> dst, bool augment, long epoch)
    {
        var s = _scratch.Value;
        if (!_data.TryDecode(index, ref s.Decoded, out int w, out int h, out _))
        {
            dst.Clear();
            _scratch.Value = s;
            return;
        }
        ReadOnlySpan<byte> src = s.Decoded;
        if (_data.Channels != _channels)
        {
            int need = w * h * _channels;
            if (s.Converted.Length < need) s.Converted = new byte[need];
            PixelOps.ConvertChannels(s.Decoded, _data.Channels, s.Converted, _channels, w * h);
            src = s.Converted;
        }
        var rng = CounterRng.For(_seed, RngStream.Evaluation, epoch, index);
        s.Aug.Augment(src[..(w * h * _channels)], w, h, augment ? _augmented : _plain, ref rng, dst);
        _scratch.Value = s;
    }

    /// <summary>The normalisation the training pipeline uses for this data and config.</summary>
    public static (double[] Mean, double[] Std) Normalisation(IImageDataset train, Data.Splits.LabelledSplit split, SemPPLConfig config)
    {
        using var p = new BatchPipeline(train, split, config.Augment, PipelineOptions.From(config));
        return (p.Mean, p.Std);
    }
}

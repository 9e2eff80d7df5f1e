using SemPPL.Data.Random;

namespace SemPPL.Data.Augmentation;

/// <summary>The stages of <see cref="ViewAugmenter.Augment"/>, in the order they run.</summary>
public enum AugmentStage { CropResample, Brightness, Contrast, Saturation, Hue, Grayscale, Blur, SolarizeNormalise }

/// <summary>
/// Told each time a stage of <see cref="ViewAugmenter.Augment"/> ends, so a benchmark can time the real stages
/// (the jitter stages only when jitter is applied; the others on every view, applied or not).
/// </summary>
public interface IAugmentStageObserver
{
    void StageEnded(AugmentStage stage);
}

/// <summary>
/// Makes one augmented, normalised view (CHW floats) from a decoded HWC byte image. One instance
/// per worker thread: it owns the scratch buffers, so the per-image path allocates nothing.
/// </summary>
public sealed class ViewAugmenter
{
    private readonly BicubicResampler _resampler = new();
    private readonly GaussianBlur _blur = new();

    /// <summary>
    /// Op order (BYOL): crop+resize (bicubic), flip, colour jitter (p, random op order), grayscale,
    /// blur, solarize, normalise. All draws come from <paramref name="rng"/>, in a fixed order.
    /// <paramref name="stages"/> (optional) is told when each stage ends.
    /// </summary>
    public void Augment(ReadOnlySpan<byte> src, int width, int height, ViewParams p, ref CounterRng rng, Span<float> dst,
        IAugmentStageObserver? stages = null)
    {
        int c = p.Channels, n = p.Size;
        var img = dst.Slice(0, c * n * n);
        var box = RandomResizedCrop.Sample(width, height, p.AreaLo, p.AreaHi, p.AspectLo, p.AspectHi, ref rng);
        bool flip = rng.Bernoulli(p.FlipP);
        _resampler.Resample(src, width, height, c, box, n, flip, img);
        stages?.StageEnded(AugmentStage.CropResample);

        if (rng.Bernoulli(p.JitterP))
        {
            float bf = (float)rng.Uniform(Math.Max(0, 1 - p.Brightness), 1 + p.Brightness);
            float cf = (float)rng.Uniform(Math.Max(0, 1 - p.Contrast), 1 + p.Contrast);
            float sf = (float)rng.Uniform(Math.Max(0, 1 - p.Saturation), 1 + p.Saturation);
            float hf = (float)rng.Uniform(-p.Hue, p.Hue);
            Span<int> order = [0, 1, 2, 3];
            CounterRng.Shuffle(order, ref rng);
            foreach (int op in order)
            {
                switch (op)
                {
                    case 0 when p.Brightness > 0: ColorJitter.Brightness(img, bf); break;
                    case 1 when p.Contrast > 0: ColorJitter.Contrast(img, c, cf); break;
                    case 2 when p.Saturation > 0 && c == 3: ColorJitter.Saturation(img, sf); break;
                    case 3 when p.Hue > 0 && c == 3: ColorJitter.Hue(img, hf); break;
                }
                stages?.StageEnded(AugmentStage.Brightness + op);
            }
        }
        if (c == 3 && rng.Bernoulli(p.GrayscaleP)) PixelOps.Grayscale(img);
        stages?.StageEnded(AugmentStage.Grayscale);
        if (rng.Bernoulli(p.BlurP))
        {
            double sigma = rng.Uniform(p.SigmaLo, p.SigmaHi);
            _blur.Apply(img, c, n, GaussianBlur.KernelSize(n), sigma);
        }
        stages?.StageEnded(AugmentStage.Blur);
        bool solarize = rng.Bernoulli(p.SolarizeP);
        PixelOps.Normalize(img, c, p.Mean, p.Std, solarize);   // solarize fused into the normalise pass
        stages?.StageEnded(AugmentStage.SolarizeNormalise);
    }
}

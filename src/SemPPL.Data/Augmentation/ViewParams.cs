using SemPPL.Config;

namespace SemPPL.Data.Augmentation;

/// <summary>The augmentation settings of one view kind (view-1 or view-2 set, large or small).</summary>
public sealed record ViewParams(
    int Size, int Channels,
    double AreaLo, double AreaHi, double AspectLo, double AspectHi,
    double FlipP,
    double Brightness, double Contrast, double Saturation, double Hue, double JitterP,
    double GrayscaleP, double BlurP, double SigmaLo, double SigmaHi, double SolarizeP,
    float[] Mean, float[] Std)
{
    /// <summary>
    /// Parameter set <paramref name="set"/> (0 = view 1, 1 = view 2) from config. Grey data
    /// (one channel) never uses saturation, hue or grayscale.
    /// </summary>
    public static ViewParams From(AugmentConfig a, int set, bool small, double[] mean, double[] std)
    {
        bool grey = a.Channels == 1;
        var area = small ? a.SmallCropArea : a.CropArea;
        Check(area, small ? "augment.small_crop_area" : "augment.crop_area", 0, 1);
        Check(a.CropAspect, "augment.crop_aspect", 0, double.MaxValue);
        Check(a.BlurSigma, "augment.blur_sigma", 0, double.MaxValue);
        if (mean.Length != a.Channels || std.Length != a.Channels)
            throw new Datasets.DataConfigException($"augment.mean/std need {a.Channels} value(s), got {mean.Length}/{std.Length}.");
        return new ViewParams(
            small ? a.SmallSize : a.LargeSize, a.Channels,
            area[0], area[1], a.CropAspect[0], a.CropAspect[1],
            a.FlipProbability,
            a.Brightness, a.Contrast, grey ? 0 : a.Saturation, grey ? 0 : a.Hue, a.ColorJitterProbability,
            grey ? 0 : a.GrayscaleProbability, Pick(a.BlurProbability, set), a.BlurSigma[0], a.BlurSigma[1], Pick(a.SolarizeProbability, set),
            mean.Select(v => (float)v).ToArray(), std.Select(v => (float)v).ToArray());
    }

    /// <summary>
    /// The deterministic evaluation view: the whole image (a square one as it is, otherwise the centre square of its
    /// shorter side), bicubic-resized to <paramref name="size"/>, no flip, jitter, grey, blur or solarize, then
    /// (x / 255 - mean) / std. Evaluation, export metadata and <c>semppl predict</c> all use this one definition.
    /// </summary>
    public static ViewParams Evaluation(int size, int channels, float[] mean, float[] std) =>
        new(size, channels, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, mean, std);

    private static double Pick(double[] v, int set) => v.Length == 0 ? 0 : v[Math.Min(set, v.Length - 1)];

    private static void Check(double[] range, string key, double lo, double hi)
    {
        if (range.Length != 2 || !(range[0] > lo) || range[0] > range[1] || range[1] > hi)
            throw new Datasets.DataConfigException($"{key} must be [low, high] with {lo} < low <= high <= {hi}, got [{string.Join(", ", range)}].");
    }
}

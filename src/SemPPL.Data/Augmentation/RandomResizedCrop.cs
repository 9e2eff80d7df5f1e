using SemPPL.Data.Random;

namespace SemPPL.Data.Augmentation;

/// <summary>A crop rectangle in source pixels.</summary>
public readonly record struct CropBox(int X, int Y, int Width, int Height);

/// <summary>Random resized crop with torchvision semantics (10 tries, then a centre crop clamped to the aspect range).</summary>
public static class RandomResizedCrop
{
    public static CropBox Sample(int width, int height, double areaLo, double areaHi, double aspectLo, double aspectHi, ref CounterRng rng)
    {
        double area = (double)width * height;
        double logLo = Math.Log(aspectLo), logHi = Math.Log(aspectHi);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * rng.Uniform(areaLo, areaHi);
            double aspect = Math.Exp(rng.Uniform(logLo, logHi));
            int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int y = rng.NextInt(height - h + 1);
                int x = rng.NextInt(width - w + 1);
                return new CropBox(x, y, w, h);
            }
        }
        double inRatio = (double)width / height;
        int cw, ch;
        if (inRatio < aspectLo) { cw = width; ch = (int)Math.Round(cw / aspectLo); }
        else if (inRatio > aspectHi) { ch = height; cw = (int)Math.Round(ch * aspectHi); }
        else { cw = width; ch = height; }
        return new CropBox((width - cw) / 2, (height - ch) / 2, cw, ch);
    }
}

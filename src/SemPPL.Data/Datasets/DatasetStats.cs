using System.Runtime.CompilerServices;

namespace SemPPL.Data.Datasets;

/// <summary>Per-channel pixel mean and standard deviation on the [0, 1] scale, computed once per data set and cached.</summary>
public static class DatasetStats
{
    private static readonly ConditionalWeakTable<IImageDataset, double[][]> Cache = new();

    /// <summary>Returns (mean, std) per channel over at most <paramref name="maxImages"/> images spread evenly over the set.</summary>
    public static (double[] Mean, double[] Std) Compute(IImageDataset ds, int maxImages = 20_000)
    {
        var r = Cache.GetValue(ds, d => Measure(d, maxImages));
        return (r[0], r[1]);
    }

    private static double[][] Measure(IImageDataset ds, int maxImages)
    {
        int c = ds.Channels, n = Math.Min(ds.Count, maxImages);
        var sum = new double[c]; var sq = new double[c]; long count = 0;
        byte[] buf = [];
        for (int k = 0; k < n; k++)
        {
            int i = (int)((long)k * ds.Count / n);
            if (!ds.TryDecode(i, ref buf, out int w, out int h, out _)) continue;
            var ls = new long[c]; var lq = new long[c];
            int px = w * h;
            for (int p = 0; p < px; p++)
                for (int ch = 0; ch < c; ch++) { int v = buf[p * c + ch]; ls[ch] += v; lq[ch] += v * v; }
            for (int ch = 0; ch < c; ch++) { sum[ch] += ls[ch]; sq[ch] += lq[ch]; }
            count += px;
        }
        if (count == 0) throw new DataConfigException($"{ds.Name}: no decodable image to compute the normalisation statistics.");
        var mean = new double[c]; var std = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            mean[ch] = sum[ch] / count / 255.0;
            std[ch] = Math.Sqrt(Math.Max(sq[ch] / count / (255.0 * 255.0) - mean[ch] * mean[ch], 1e-12));
        }
        return [mean, std];
    }
}

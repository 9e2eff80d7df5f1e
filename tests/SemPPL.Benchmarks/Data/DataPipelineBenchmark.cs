using System.Diagnostics;
using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Pipeline;
using SemPPL.Data.Splits;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace SemPPL.Benchmarks.Data;

/// <summary>
/// Images per second per core of the data pipeline: (a) 28x28 grey (embedded Fashion-MNIST), 2 large
/// views; (b) 256x256 JPEGs through the folder reader, 4 large (224) + 2 small (96) views.
/// Options: --workers N (default: processor count), --steps N, --images N (JPEGs to generate),
/// --warmup N (batches before timing, default 3), --repeat N (timed windows of --steps batches, default 3;
/// `--warmup 1 --repeat 1` is the protocol used before the speed-up work);
/// --stages [--rounds N] [--dump FILE] prints the per-stage cost of (b) on one thread instead (<see cref="DataStagesBenchmark"/>).
/// </summary>
public static class DataPipelineBenchmark
{
    public static int Run(string[] args)
    {
        int workers = BenchmarkOptions.Get(args, "--workers", Environment.ProcessorCount);
        int steps = BenchmarkOptions.Get(args, "--steps", 6);
        int images = BenchmarkOptions.Get(args, "--images", 256);
        int warmup = BenchmarkOptions.Get(args, "--warmup", 3);
        int repeat = BenchmarkOptions.Get(args, "--repeat", 3);
        Console.WriteLine($"workers={workers} cores={Environment.ProcessorCount} vector={System.Numerics.Vector<float>.Count} floats");
        if (Array.IndexOf(args, "--stages") >= 0)
        {
            string sdir = Directory.CreateTempSubdirectory("semppl-bench-").FullName;
            try { MakeJpegs(sdir, BenchmarkOptions.Get(args, "--images", 64)); DataStagesBenchmark.Run(sdir, BenchmarkOptions.Get(args, "--rounds", 5), BenchmarkOptions.Get(args, "--dump")); }
            finally { Directory.Delete(sdir, true); }
            return 0;
        }

        // (a) grey 28x28, 2 large views, B = 256 + 64
        var fm = FashionMnist.OpenEmbedded().Train;
        var augA = new AugmentConfig { Channels = 1, LargeViews = 2, SmallViews = 0, LargeSize = 28, CropArea = [0.35, 1.0], BlurProbability = [0.0, 0.0], SolarizeProbability = [0.0, 0.2] };
        using (var p = new BatchPipeline(fm, LabelledSplit.PerClass(fm, 10, 0), augA, new PipelineOptions(256, 64, 0, workers, 4)))
            Measure("(a) 28x28 grey, L=2", p, steps * 4, workers, warmup, repeat);

        // (b) 256x256 JPEG, L=4 x 224 + S=2 x 96, B = 64 + 16
        string dir = Directory.CreateTempSubdirectory("semppl-bench-").FullName;
        try
        {
            MakeJpegs(dir, images);
            var ds = new ImageFolderDataset(dir, 3, 50_000_000, workers: workers);
            byte[] buf = [];
            var dsw = Stopwatch.StartNew();
            for (int i = 0; i < ds.Count; i++) ds.TryDecode(i, ref buf, out _, out _, out _);
            Console.WriteLine($"    JPEG decode alone: {ds.Count / dsw.Elapsed.TotalSeconds:F0} images/s on one core");
            var augB = new AugmentConfig { Channels = 3, LargeViews = 4, SmallViews = 2, LargeSize = 224, SmallSize = 96 };
            using var p = new BatchPipeline(ds, LabelledSplit.PerClass(ds, 8, 0), augB, new PipelineOptions(64, 16, 0, workers, 4));
            Measure("(b) 256x256 JPEG -> 4x224 + 2x96 RGB", p, steps, workers, warmup, repeat);
        }
        finally { Directory.Delete(dir, true); }
        return 0;
    }

    private static void Measure(string name, BatchPipeline p, int steps, int workers, int warmup, int repeat)
    {
        // Warm-up: JIT, and the batch pool filled towards its steady state. A prefetching stream
        // keeps two or three batches (~220 MB each in (b)) in flight; allocating and first-touching
        // a new one costs ~0.5 CPU-seconds on this VM (page faults), more than a whole batch of
        // augmentation, and training pays it only once. Each timed window reports how much it
        // allocated, so a window that still grew the pool shows itself (~0.46 MB per image in (b)).
        foreach (var b in p.Stream(0, warmup)) b.Dispose();
        int perBatch = p.Options.BatchUnlabelled + p.Options.BatchLabelled;
        double bestIps = 0, bestCpu = 0;
        for (int r = 0; r < repeat; r++)
        {
            var sw = Stopwatch.StartNew();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            int gc0 = GC.CollectionCount(0), gc2 = GC.CollectionCount(2);
            long alloc0 = GC.GetTotalAllocatedBytes();
            long first = warmup + (long)r * steps;
            foreach (var b in p.Stream(first, first + steps)) b.Dispose();
            double s = sw.Elapsed.TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            double ips = steps * perBatch / s, perCpu = steps * perBatch / cpu;
            bestIps = Math.Max(bestIps, ips); bestCpu = Math.Max(bestCpu, perCpu);
            Console.WriteLine($"{name}: {ips:F0} images/s with {workers} worker(s) = {ips / workers:F0} images/s per core " +
                              $"({perCpu:F0} per CPU-second; {steps} batches of {perBatch}; " +
                              $"GC {GC.CollectionCount(0) - gc0} gen0 / {GC.CollectionCount(2) - gc2} gen2, {(GC.GetTotalAllocatedBytes() - alloc0) / 1e6 / (steps * perBatch):F2} MB allocated per image)");
        }
        if (repeat > 1)
            Console.WriteLine($"{name}: best of {repeat} windows: {bestIps / workers:F0} images/s per core, {bestCpu:F0} per CPU-second");
    }

    private static void MakeJpegs(string dir, int n)
    {
        var rnd = new System.Random(1);
        for (int i = 0; i < n; i++)
        {
            string cls = Path.Combine(dir, $"class{i % 8}");
            Directory.CreateDirectory(cls);
            using var img = new Image<Rgb24>(256, 256);
            int a = rnd.Next(256), b = rnd.Next(256);
            img.ProcessPixelRows(acc =>
            {
                for (int y = 0; y < 256; y++)
                {
                    var row = acc.GetRowSpan(y);
                    for (int x = 0; x < 256; x++)   // smooth gradients plus texture, like a photo
                        row[x] = new Rgb24((byte)(x + a), (byte)(y + b), (byte)((x * y >> 6) + rnd.Next(32)));
                }
            });
            img.SaveAsJpeg(Path.Combine(cls, $"img{i:D4}.jpg"), new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 90 });
        }
    }
}

using System.Diagnostics;
using SemPPL.Config;
using SemPPL.Data.Augmentation;
using SemPPL.Data.Datasets;
using SemPPL.Data.Random;

namespace SemPPL.Benchmarks.Data;

/// <summary>
/// Per-stage cost of case (b) on one thread: decode, crop+resample, jitter, grayscale, blur,
/// solarize+normalise, in thread-CPU microseconds per image (4 x 224 + 2 x 96 views), the minimum over
/// several rounds (robust to a shared machine). The views are made by the pipeline's own
/// <see cref="ViewAugmenter"/>, which reports the end of each stage. `data --stages [--images N] [--rounds N]`.
/// </summary>
public static class DataStagesBenchmark
{
    // Row 0 is the decode; row 1 + s is AugmentStage s.
    private static readonly string[] Names = ["decode", "crop+resample", "jitter: brightness", "jitter: contrast", "jitter: saturation", "jitter: hue", "grayscale", "blur", "solarize+normalise"];

    public static void Run(string dir, int rounds, string? dump = null)
    {
        var ds = new ImageFolderDataset(dir, 3, 50_000_000, workers: 1);
        var aug = new AugmentConfig { Channels = 3, LargeViews = 4, SmallViews = 2, LargeSize = 224, SmallSize = 96 };
        double[] mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
        ViewParams[] large = [ViewParams.From(aug, 0, false, mean, std), ViewParams.From(aug, 1, false, mean, std)];
        ViewParams[] small = [ViewParams.From(aug, 0, true, mean, std), ViewParams.From(aug, 1, true, mean, std)];
        var augmenter = new ViewAugmenter();
        var dst = new float[3 * 224 * 224];
        byte[] buf = [];
        if (dump is not null)
        {
            // Every view of every image through ViewAugmenter, as raw little-endian floats, to compare
            // the output of two builds (e.g. before and after a speed-up).
            using var f = File.Create(dump);
            for (int i = 0; i < ds.Count; i++)
            {
                ds.TryDecode(i, ref buf, out int w, out int h, out _);
                for (int v = 0; v < 6; v++)
                {
                    var p = v < 4 ? large[v & 1] : small[(v - 4) & 1];
                    var rng = CounterRng.For(0, RngStream.AugmentUnlabelled, 0, i, v);
                    var view = dst.AsSpan(0, 3 * p.Size * p.Size);
                    augmenter.Augment(buf, w, h, p, ref rng, view);
                    f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(view));
                }
            }
            Console.WriteLine($"wrote {f.Length} bytes of views to {dump}");
        }
        var best = Enumerable.Repeat(double.MaxValue, Names.Length).ToArray();
        double bestTotal = double.MaxValue, bestProcess = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            var t = new long[Names.Length];
            var clock = new StageClock(t);
            var proc0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (int i = 0; i < ds.Count; i++)
            {
                long t0 = Now();
                ds.TryDecode(i, ref buf, out int w, out int h, out _);
                t[0] += Now() - t0;
                for (int v = 0; v < 6; v++)
                {
                    var p = v < 4 ? large[v & 1] : small[(v - 4) & 1];
                    var rng = CounterRng.For(0, RngStream.AugmentUnlabelled, 0, i, v);
                    clock.Start();
                    augmenter.Augment(buf, w, h, p, ref rng, dst.AsSpan(0, 3 * p.Size * p.Size), clock);
                }
            }
            double procUs = (Process.GetCurrentProcess().TotalProcessorTime - proc0).TotalMicroseconds / ds.Count;
            double total = 0;
            for (int s = 0; s < Names.Length; s++) { double us = t[s] * 1e-3 / ds.Count; best[s] = Math.Min(best[s], us); total += us; }
            bestTotal = Math.Min(bestTotal, total);
            bestProcess = Math.Min(bestProcess, procUs);
        }
        Console.WriteLine($"stages, thread-CPU microseconds per image (min of {rounds} rounds over {ds.Count} images, 4x224 + 2x96 views):");
        for (int s = 0; s < Names.Length; s++) Console.WriteLine($"    {Names[s],-20} {best[s],8:F0}");
        Console.WriteLine($"    {"total (best round)",-20} {bestTotal,8:F0}  = {1e6 / bestTotal:F0} images/s on one core");
        Console.WriteLine($"    {"process CPU",-20} {bestProcess,8:F0}  (all threads: GC, thread pool, page faults included)");
    }

    // Thread CPU time in ns (Linux CLOCK_THREAD_CPUTIME_ID), so time spent descheduled on a shared
    // machine does not count; falls back to the wall clock elsewhere.
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec { public long Sec, Nsec; }
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGettime(int clock, out Timespec ts);
    private static readonly bool ThreadClock = OperatingSystem.IsLinux();

    private static long Now()
    {
        if (ThreadClock && ClockGettime(3, out var ts) == 0) return ts.Sec * 1_000_000_000 + ts.Nsec;
        return (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
    }

    /// <summary>Charges the thread-CPU time since the previous mark to the stage that just ended.</summary>
    private sealed class StageClock(long[] totals) : IAugmentStageObserver
    {
        private long _last;

        public void Start() => _last = Now();

        public void StageEnded(AugmentStage stage)
        {
            long now = Now();
            totals[1 + (int)stage] += now - _last;
            _last = now;
        }
    }
}

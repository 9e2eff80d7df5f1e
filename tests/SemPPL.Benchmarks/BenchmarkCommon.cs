using SemPPL.Trainer.Runtime;

namespace SemPPL.Benchmarks;

/// <summary>The "--name value" options every benchmark reads.</summary>
public static class BenchmarkOptions
{
    /// <summary>The value after <paramref name="name"/>, or null when the option is absent.</summary>
    public static string? Get(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static string Get(string[] args, string name, string fallback) => Get(args, name) ?? fallback;

    public static int Get(string[] args, string name, int fallback) => Get(args, name) is { } v ? int.Parse(v) : fallback;
}

/// <summary>What machine a benchmark ran on.</summary>
public static class Machine
{
    /// <summary>The CPU's model name and the vector extensions its kernels can use (<see cref="CpuFeatures"/>).</summary>
    public static string Cpu() => CpuFeatures.Current.ToString();

    /// <summary>/proc/loadavg, or "n/a": how busy the machine was (timings on a shared machine need it).</summary>
    public static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Trim(); } catch (Exception) { return "n/a"; }
    }

    /// <summary>The whole machine's CPU time counters from /proc/stat (jiffies: all, steal), or null where there is none.
    /// On a VM, steal is time the host gave our virtual CPUs to someone else: a timing taken under steal is slower
    /// for reasons outside the process (<see cref="StealShare"/>).</summary>
    public static (long All, long Steal)? CpuTimes()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] != "cpu" || fields.Length < 9) return null;
            var v = fields.Skip(1).Take(8).Select(long.Parse).ToArray(); // user nice system idle iowait irq softirq steal
            return (v.Sum(), v[7]);
        }
        catch (Exception) { return null; }
    }

    /// <summary>"steal N % of CPU time" between two <see cref="CpuTimes"/> readings, or "steal n/a".</summary>
    public static string StealShare((long All, long Steal)? before, (long All, long Steal)? after) =>
        before is { } b && after is { } a && a.All > b.All ? $"steal {100.0 * (a.Steal - b.Steal) / (a.All - b.All):F1} % of CPU time" : "steal n/a";

    public static string Describe() => $"{Cpu()}, {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}";
}

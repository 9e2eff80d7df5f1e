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

    public static string Describe() => $"{Cpu()}, {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}";
}

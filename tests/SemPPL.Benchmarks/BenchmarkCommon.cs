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
    /// <summary>The CPU's model name from /proc/cpuinfo, or "unknown CPU".</summary>
    public static string Cpu()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
                ?? "unknown CPU";
        }
        catch (IOException) { return "unknown CPU"; }
    }

    public static string Describe() => $"{Cpu()}, {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}";
}

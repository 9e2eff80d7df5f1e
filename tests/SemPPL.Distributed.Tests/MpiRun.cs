using System.Diagnostics;

namespace SemPPL.Distributed.Tests;

/// <summary>Starts the probe (tests/SemPPL.Distributed.Probe) as the ranks of an Open MPI job.</summary>
public static class MpiRun
{
    public static string? Executable => MpirunFactAttribute.Executable;

    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    /// <summary>mpirun -np <paramref name="ranks"/> --oversubscribe dotnet probe.dll args..., killed after <paramref name="limit"/>.</summary>
    public static Result Probe(int ranks, TimeSpan limit, params string[] args) => Probe(ranks, limit, [], args);

    /// <summary>As above, with <paramref name="environment"/> exported to every rank (mpirun -x).</summary>
    public static Result Probe(int ranks, TimeSpan limit, Dictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo(Executable!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // --oversubscribe: more ranks than the cores mpirun counts (CI has 2).
        foreach (var a in (string[])["-np", ranks.ToString(), "--oversubscribe"]) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            psi.ArgumentList.Add("-x");
            psi.ArgumentList.Add($"{name}={value}");
        }
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(ProbeDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        // CI runs as root, which mpirun refuses unless both are set.
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        return RunToEnd(psi, limit, "mpirun");
    }

    /// <summary>The probe as one process without mpirun, with <paramref name="environment"/> added to its own.</summary>
    public static Result ProbeAlone(TimeSpan limit, Dictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(ProbeDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        return RunToEnd(psi, limit, "the probe");
    }

    /// <summary>Runs the process to its end (killed, and the test failed, past <paramref name="limit"/>), with its whole output.</summary>
    private static Result RunToEnd(ProcessStartInfo psi, TimeSpan limit, string what)
    {
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.Fail($"{what} did not finish within {limit.TotalSeconds} s; output so far:\n{stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result + stderr.Result, clock.Elapsed);
    }

    private static string ProbeDll() => SiblingBuild.Dll("SemPPL.Distributed.Probe", "SemPPL.Distributed.Probe.dll");
}

/// <summary>The build output of another project under tests/, in this build's configuration and framework.</summary>
public static class SiblingBuild
{
    public static string Dll(string project, string dll)
    {
        var parts = new Stack<string>();
        var d = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        while (d is not null && d.Name != "SemPPL.Distributed.Tests") { parts.Push(d.Name); d = d.Parent; }
        Assert.True(d is not null, $"cannot locate the test project folder above {AppContext.BaseDirectory}");
        string path = Path.Combine([d!.Parent!.FullName, project, .. parts, dll]);
        Assert.True(File.Exists(path), $"{project} not built: {path}");
        return path;
    }
}

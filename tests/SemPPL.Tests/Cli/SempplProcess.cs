using System.Diagnostics;

namespace SemPPL.Tests.Cli;

/// <summary>Runs the built <c>semppl</c> CLI (src/SemPPL.Cli/bin/&lt;same configuration/framework&gt;/semppl.dll) as a child process.</summary>
public static class SempplProcess
{
    public static string Dll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var parts = new Stack<string>();
        var d = baseDir;
        while (d is not null && d.Name != "SemPPL.Tests") { parts.Push(d.Name); d = d.Parent; }
        Assert.True(d is not null, $"cannot locate the test project folder above {baseDir}");
        string dll = Path.Combine([d!.Parent!.Parent!.FullName, "src", "SemPPL.Cli", .. parts, "semppl.dll"]);
        Assert.True(File.Exists(dll), $"CLI not built: {dll}");
        return dll;
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(params string[] args) => Run(new Dictionary<string, string>(), args);

    /// <summary>Runs semppl with <paramref name="environment"/> added to this process's variables.</summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "semppl did not finish in 2 minutes");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

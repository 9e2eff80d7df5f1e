using System.Diagnostics;

namespace SemPPL.Tests.Cli;

/// <summary>Runs the built <c>semppl</c> CLI (src/SemPPL.Cli/bin/&lt;same configuration/framework&gt;/semppl.dll), or another
/// built program of the repository, as a child process.</summary>
public static class SempplProcess
{
    public static string Dll() => BuiltDll(Path.Combine("src", "SemPPL.Cli"), "semppl.dll");

    /// <summary>The dll of the project in <paramref name="projectDir"/> (relative to the repository root), built in the
    /// same configuration and framework as these tests.</summary>
    public static string BuiltDll(string projectDir, string dllName)
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var parts = new Stack<string>();
        var d = baseDir;
        while (d is not null && d.Name != "SemPPL.Tests") { parts.Push(d.Name); d = d.Parent; }
        Assert.True(d is not null, $"cannot locate the test project folder above {baseDir}");
        string dll = Path.Combine([d!.Parent!.Parent!.FullName, projectDir, .. parts, dllName]);
        Assert.True(File.Exists(dll), $"not built: {dll}");
        return dll;
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(params string[] args) => Run(new Dictionary<string, string>(), args);

    /// <summary>Runs semppl with <paramref name="environment"/> added to this process's variables.</summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
        => RunDll(Dll(), args, environment: environment);

    /// <summary>Runs a built dll (<see cref="BuiltDll"/>) with <paramref name="environment"/> added to this process's variables.</summary>
    public static (int ExitCode, string StdOut, string StdErr) RunDll(string dll, string[] args, int timeoutMs = 120_000,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(timeoutMs), $"{Path.GetFileName(dll)} did not finish in {timeoutMs / 1000} s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

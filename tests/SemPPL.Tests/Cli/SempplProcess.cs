using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

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

    /// <summary>Starts semppl (optionally through a wrapper command such as setpriv, with variables added) and collects its output while it runs.</summary>
    public static RunningSemppl Start(string[] args, string[]? wrapper = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(wrapper?[0] ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (wrapper is not null)
        {
            foreach (var w in wrapper.Skip(1)) psi.ArgumentList.Add(w);
            psi.ArgumentList.Add("dotnet");
        }
        psi.ArgumentList.Add(Dll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        return new RunningSemppl(Process.Start(psi)!);
    }

    /// <summary>True when this process can read any file whatever its mode (root): tests of unreadable files then drop that power in the child.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static bool IgnoresFileModes()
    {
        string probe = Path.Combine(Path.GetTempPath(), $"semppl-mode-probe-{Guid.NewGuid():N}");
        File.WriteAllText(probe, "x");
        File.SetUnixFileMode(probe, UnixFileMode.None);
        try { File.ReadAllText(probe); return true; }
        catch (UnauthorizedAccessException) { return false; }
        finally { File.Delete(probe); }
    }

    /// <summary>setpriv without the capabilities that let root read and search files whatever their mode.</summary>
    public static readonly string[] WithoutFileOverride = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"];
}

/// <summary>A started semppl process: its output so far, signals, and its end.</summary>
public sealed class RunningSemppl : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new(), _err = new();

    internal RunningSemppl(Process p)
    {
        _p = p;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    public int Id => _p.Id;
    public string StdOut { get { lock (_out) return _out.ToString(); } }
    public string StdErr { get { lock (_err) return _err.ToString(); } }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails when the process ends or the time is up first.</summary>
    public void WaitUntil(Func<bool> condition, string what, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(_p.HasExited, $"semppl ended (exit {(_p.HasExited ? _p.ExitCode : 0)}) before {what}: {StdErr}");
            Assert.True(sw.Elapsed < timeout, $"no {what} within {timeout.TotalSeconds} s");
            Thread.Sleep(50);
        }
    }

    public void Signal(int signal) => Assert.Equal(0, kill(_p.Id, signal));

    public (int ExitCode, string StdOut, string StdErr) WaitForExit(TimeSpan timeout)
    {
        Assert.True(_p.WaitForExit(timeout), $"semppl did not finish in {timeout.TotalSeconds} s");
        _p.WaitForExit(); // drains the redirected output
        return (_p.ExitCode, StdOut, StdErr);
    }

    public void Dispose()
    {
        if (!_p.HasExited) _p.Kill(entireProcessTree: true);
        _p.Dispose();
    }

    public const int SigInt = 2, SigKill = 9, SigTerm = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}

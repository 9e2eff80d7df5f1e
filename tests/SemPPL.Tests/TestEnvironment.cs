using System.Runtime.CompilerServices;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests;

/// <summary>Process-wide settings of the test run, set before any test (and inherited by the CLI processes tests start).</summary>
internal static class TestEnvironment
{
    /// <summary>Runs (and so the trainer and CLI tests) keep ORT's optimised graphs in a cache folder: this test run's
    /// own, not the user's (~/.cache/semppl/ort), deleted at the end. Resumes in the same run then load from it.</summary>
    [ModuleInitializer]
    internal static void UseOwnOptimizedModelCache()
    {
        if (Environment.GetEnvironmentVariable(OptimizedModelCache.Variable) is { Length: > 0 }) return;
        string dir = Path.Combine(Path.GetTempPath(), $"semppl-tests-ort-cache-{Environment.ProcessId}");
        Environment.SetEnvironmentVariable(OptimizedModelCache.Variable, dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        };
    }
}

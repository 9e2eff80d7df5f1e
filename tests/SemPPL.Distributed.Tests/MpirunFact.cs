namespace SemPPL.Distributed.Tests;

/// <summary>A [Fact] skipped, with the reason, when Open MPI's mpirun is not installed (.ci/run installs it). Also
/// compiled into SemPPL.Tests (linked), for its data-parallel training tests.</summary>
public sealed class MpirunFactAttribute : FactAttribute
{
    /// <summary>mpirun's path, the first on PATH; null when not installed.</summary>
    public static readonly string? Executable = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, "mpirun"))
        .FirstOrDefault(File.Exists);

    public MpirunFactAttribute()
    {
        if (Executable is null) Skip = "mpirun is not on PATH (apt-get install openmpi-bin libopenmpi-dev); the multi-rank tests cannot run";
    }
}

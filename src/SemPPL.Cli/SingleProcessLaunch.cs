using SemPPL.Distributed.Launch;

namespace SemPPL.Cli;

/// <summary>
/// Until the data-parallel step exists, a launch of several ranks (mpirun, srun, torchrun-style variables) is
/// refused before anything is read or written: the ranks would train independently into one run folder.
/// </summary>
internal static class SingleProcessLaunch
{
    /// <exception cref="LaunchException">this process is one of several ranks, or the launcher's variables are malformed.</exception>
    public static void Require()
    {
        var launch = ProcessLaunch.FromProcessEnvironment();
        if (launch.IsDistributed)
            throw new LaunchException($"started as {launch}: this version trains in one process; data-parallel training "
                                      + "over several is not built yet (README, \"Many GPUs and machines\")");
    }
}

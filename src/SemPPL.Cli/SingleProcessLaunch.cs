using SemPPL.Distributed.Launch;

namespace SemPPL.Cli;

/// <summary>
/// Verbs that run in one process (the supervised baseline; evaluation and export run after training on rank 0) refuse a
/// launch of several ranks (mpirun, srun, torchrun-style variables) before anything is read or written: the ranks would
/// all write one run folder. Only `train` joins a data-parallel job.
/// </summary>
internal static class SingleProcessLaunch
{
    /// <exception cref="LaunchException">this process is one of several ranks, or the launcher's variables are malformed.</exception>
    public static void Require()
    {
        var launch = ProcessLaunch.FromProcessEnvironment();
        if (launch.IsDistributed)
            throw new LaunchException($"started as {launch}: this command runs in one process; only `semppl train` trains data-parallel over several "
                                      + "(README, \"Many GPUs and machines\")");
    }
}

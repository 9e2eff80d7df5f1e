using SemPPL.Config;
using SemPPL.Distributed;
using SemPPL.Distributed.Launch;
using SemPPL.Trainer.DataParallel;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Cli;

/// <summary>
/// Joins the data-parallel job this process was launched into (mpirun, srun, torchrun-style variables, or
/// SEMPPL_DISTRIBUTED=1 for one process), or returns null for a plain single-process run (today's path, no engine loaded).
/// </summary>
internal static class JobLaunch
{
    public static TrainingJob? Open(SemPPLConfig config)
    {
        var launch = ProcessLaunch.FromProcessEnvironment();
        if (!TrainingJob.Requested(launch)) return null;
        var device = ExecutionDevice.Parse(config.Device).ForRank(launch);
        bool cuda = device.Kind == DeviceKind.Cuda;
        if (device.Kind != DeviceKind.Cpu)
        {
            // auto: which kind the rank gets; cuda: a device that cannot start fails here (exit 3), before the engines join.
            using var probe = new SessionFactory(device, notice: _ => { });
            cuda = probe.IsCuda;
        }
        return new TrainingJob(launch, JobCommunicators.Open(launch, cuda, JobCommunicators.DefaultTimeout, CliErrors.JobFailed));
    }

    /// <summary>What a rank other than 0 prints: warnings and errors only, marked with its rank (rank 0 speaks for the job).</summary>
    public static Action<string> RankLog(TrainingJob? job, Action<string> log) =>
        job is null || job.IsPrimary ? log : m => { if (m.StartsWith("warning", StringComparison.Ordinal)) log($"{job}: {m}"); };
}

using SemPPL.Config;
using SemPPL.Data.Pipeline;
using SemPPL.Distributed;
using SemPPL.Distributed.Launch;

namespace SemPPL.Trainer.DataParallel;

/// <summary>
/// This process's rank in a data-parallel training job and its communicators (owned). Rank 0 is the primary: it owns
/// the run folder, writes checkpoints and metrics, and prints progress; the other ranks keep their artifact set in a
/// folder of their own (<see cref="RankFolder"/>), which needs no file system shared with rank 0.
/// </summary>
public sealed class TrainingJob(ProcessLaunch launch, JobCommunicators communicators) : IDisposable
{
    /// <summary>Set to 1 to run the data-parallel path (communicators and collectives) even with one process.</summary>
    public const string ForceVariable = "SEMPPL_DISTRIBUTED";

    public ProcessLaunch Launch { get; } = launch;
    public JobCommunicators Communicators { get; } = communicators;
    public int Rank => Communicators.Rank;
    public int WorldSize => Communicators.WorldSize;
    public bool IsPrimary => Rank == 0;

    /// <summary>This rank's part of each batch.</summary>
    public RankSlice Slice(SemPPLConfig config) =>
        new(Rank, WorldSize, config.Training.BatchUnlabelled, config.Training.EffectiveBatchLabelled());

    /// <summary>Where a rank other than 0 keeps its artifact set: &lt;out&gt;/ranks/&lt;rank&gt;.</summary>
    public static string RankFolder(string runFolder, int rank) => Path.Combine(runFolder, "ranks", rank.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Whether this process should join a data-parallel job: a launcher gave it several ranks, or <see cref="ForceVariable"/> is 1.</summary>
    public static bool Requested(ProcessLaunch launch) => launch.IsDistributed || Environment.GetEnvironmentVariable(ForceVariable) == "1";

    public override string ToString() => $"rank {Rank} of {WorldSize}";

    public void Dispose() => Communicators.Dispose();
}

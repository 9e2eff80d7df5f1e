using SemPPL.Distributed.Launch;
using SemPPL.Distributed.Mpi;
using SemPPL.Distributed.Nccl;

namespace SemPPL.Distributed;

/// <summary>
/// The two communicators of one rank of a data-parallel job: <see cref="Host"/> moves host arrays (the control plane:
/// loss scalars, checkpoint bytes, start checks) and <see cref="Data"/> moves the step's tensors where they live
/// (host memory on the CPU, this rank's GPU under CUDA). On the CPU both are one Open MPI communicator. Under CUDA the
/// data plane is NCCL: joined over Open MPI when the launcher is mpirun or srun; joined at NCCL's own rendezvous
/// (<c>MASTER_ADDR:MASTER_PORT</c>) with no MPI at all for a torchrun-style launch, the host plane then staging host
/// arrays through a device buffer over NCCL (<see cref="DeviceStagedCommunicator"/>). Owns both; disposing ends them.
/// </summary>
public sealed class JobCommunicators : IDisposable
{
    private readonly IDisposable[] _owned;   // in the order they end

    private JobCommunicators(ICommunicator host, ICommunicator data, params IDisposable[] owned)
    {
        Host = host;
        Data = data;
        _owned = owned;
    }

    /// <summary>Host arrays (<see cref="BufferLocation.Host"/>).</summary>
    public ICommunicator Host { get; }

    /// <summary>The step's tensors: the same object as <see cref="Host"/> on the CPU.</summary>
    public ICommunicator Data { get; }

    public int Rank => Host.Rank;

    public int WorldSize => Host.WorldSize;

    /// <summary>
    /// How long one collective may block before the rank ends (a dead or hung peer); <c>SEMPPL_COLLECTIVE_TIMEOUT_S</c>
    /// overrides. 15 minutes, because a collective also waits out the slowest rank's work before it: rank 0's setup (an
    /// image-folder walk, graph generation) before the first broadcast, and the first session's optimisation (up to two
    /// minutes for ImageNet ResNet-50) before the first step's gathers. A rank that dies is noticed sooner, by the launcher.
    /// </summary>
    public static TimeSpan DefaultTimeout => TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("SEMPPL_COLLECTIVE_TIMEOUT_S"), out int s) && s > 0 ? s : 900);

    /// <summary>Joins the job <paramref name="launch"/> describes.</summary>
    /// <param name="cuda">The step's tensors live on CUDA device <see cref="ProcessLaunch.CudaDevice"/>.</param>
    /// <param name="timeoutExitCode">The exit code of a rank whose collective (or join) ran past <paramref name="timeout"/>.</param>
    /// <exception cref="CommunicatorException">the engine is missing or the ranks cannot join; the message names the rank and the fix.</exception>
    public static JobCommunicators Open(ProcessLaunch launch, bool cuda, TimeSpan timeout, int timeoutExitCode)
    {
        if (cuda && launch.Source == LaunchSource.TorchRun) return AtNcclRendezvous(launch, timeout, timeoutExitCode);
        var mpi = MpiCommunicator.Initialize(timeout, timeoutExitCode);
        try
        {
            if (mpi.WorldSize != launch.WorldSize || mpi.Rank != launch.Rank)
                throw new CommunicatorException(
                    $"the launcher's variables say {launch} but MPI sees rank {mpi.Rank} of {mpi.WorldSize}: start the job with mpirun or srun --mpi=pmix " +
                    "(a torchrun-style launch without MPI needs CUDA and NCCL)");
            if (!cuda) return new JobCommunicators(mpi, mpi, mpi);
            var nccl = NcclCommunicator.Create(mpi, launch.CudaDevice, Environment.GetEnvironmentVariable(NcclCommunicator.LibraryPathVariable), timeout);
            return new JobCommunicators(mpi, nccl, nccl, mpi);
        }
        catch
        {
            mpi.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Where NCCL's bootstrap meets for a torchrun-style launch: <c>NCCL_COMM_ID</c> when the environment sets it (under
    /// torchrun itself, whose own store holds <c>MASTER_PORT</c>, set it to another port of rank 0's machine), else
    /// <c>MASTER_ADDR:MASTER_PORT</c>.
    /// </summary>
    /// <exception cref="CommunicatorException">neither is set; the message names the missing variable.</exception>
    public static string NcclRendezvous(ProcessLaunch launch, string? commIdFromEnvironment)
    {
        if (!string.IsNullOrWhiteSpace(commIdFromEnvironment)) return commIdFromEnvironment.Trim();
        string where = $"rank {launch.Rank} of {launch.WorldSize}";
        string? missing = launch.MasterAddress is null ? "MASTER_ADDR" : launch.MasterPort is null ? "MASTER_PORT" : null;
        if (missing is not null)
            throw new CommunicatorException($"{where}: a torchrun-style launch on CUDA joins NCCL at MASTER_ADDR:MASTER_PORT (rank 0's machine and a free port "
                                            + $"there) or at {NcclCommunicator.CommIdVariable}, but {missing} is not set");
        string address = launch.MasterAddress!;
        // An IPv6 literal takes brackets before the port.
        if (address.Contains(':') && !address.StartsWith('[')) address = $"[{address}]";
        return $"{address}:{launch.MasterPort}";
    }

    private static JobCommunicators AtNcclRendezvous(ProcessLaunch launch, TimeSpan timeout, int timeoutExitCode)
    {
        string commId = NcclRendezvous(launch, Environment.GetEnvironmentVariable(NcclCommunicator.CommIdVariable));
        var nccl = NcclCommunicator.CreateAtRendezvous(launch.Rank, launch.WorldSize, commId, launch.CudaDevice,
                                                       Environment.GetEnvironmentVariable(NcclCommunicator.LibraryPathVariable), timeout, timeoutExitCode);
        var host = new DeviceStagedCommunicator(nccl, nccl.Staging);
        return new JobCommunicators(host, nccl, host, nccl);
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
    }
}

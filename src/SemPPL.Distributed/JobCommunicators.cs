using SemPPL.Distributed.Launch;
using SemPPL.Distributed.Mpi;
using SemPPL.Distributed.Nccl;

namespace SemPPL.Distributed;

/// <summary>
/// The two communicators of one rank of a data-parallel job: <see cref="Host"/> moves host arrays (the control plane:
/// loss scalars, checkpoint bytes, start checks) and <see cref="Data"/> moves the step's tensors where they live
/// (host memory on the CPU, this rank's GPU under CUDA). On the CPU both are one Open MPI communicator; under CUDA the
/// data plane is NCCL, joined through the host plane. Owns both; disposing ends them (NCCL first).
/// </summary>
public sealed class JobCommunicators : IDisposable
{
    private JobCommunicators(ICommunicator host, ICommunicator data)
    {
        Host = host;
        Data = data;
    }

    /// <summary>Host arrays (<see cref="BufferLocation.Host"/>).</summary>
    public ICommunicator Host { get; }

    /// <summary>The step's tensors: the same object as <see cref="Host"/> on the CPU.</summary>
    public ICommunicator Data { get; }

    public int Rank => Host.Rank;

    public int WorldSize => Host.WorldSize;

    /// <summary>How long one collective may block before the rank ends (a dead or hung peer); <c>SEMPPL_COLLECTIVE_TIMEOUT_S</c> overrides.</summary>
    public static TimeSpan DefaultTimeout => TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("SEMPPL_COLLECTIVE_TIMEOUT_S"), out int s) && s > 0 ? s : 300);

    /// <summary>Joins the job <paramref name="launch"/> describes.</summary>
    /// <param name="cuda">The step's tensors live on CUDA device <see cref="ProcessLaunch.CudaDevice"/>.</param>
    /// <param name="timeoutExitCode">The exit code of a rank whose collective ran past <paramref name="timeout"/>.</param>
    /// <exception cref="CommunicatorException">the engine is missing or the ranks cannot join; the message names the rank and the fix.</exception>
    public static JobCommunicators Open(ProcessLaunch launch, bool cuda, TimeSpan timeout, int timeoutExitCode)
    {
        var mpi = MpiCommunicator.Initialize(timeout, timeoutExitCode);
        try
        {
            if (mpi.WorldSize != launch.WorldSize || mpi.Rank != launch.Rank)
                throw new CommunicatorException(
                    $"the launcher's variables say {launch} but MPI sees rank {mpi.Rank} of {mpi.WorldSize}: start the job with mpirun or srun --mpi=pmix " +
                    "(a torchrun-style launch without MPI needs CUDA and NCCL)");
            if (!cuda) return new JobCommunicators(mpi, mpi);
            var nccl = NcclCommunicator.Create(mpi, launch.CudaDevice, Environment.GetEnvironmentVariable(NcclCommunicator.LibraryPathVariable), timeout);
            return new JobCommunicators(mpi, nccl);
        }
        catch
        {
            mpi.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (!ReferenceEquals(Data, Host)) Data.Dispose();
        Host.Dispose();
    }
}

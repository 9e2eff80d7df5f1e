using System.Collections;
using System.Globalization;

namespace SemPPL.Distributed.Launch;

/// <summary>Which launcher's variables gave a process its place in the job.</summary>
public enum LaunchSource
{
    /// <summary>No launcher variables: one process, today's single-device path.</summary>
    SingleProcess,
    /// <summary><c>mpirun</c>/<c>mpiexec</c> of Open MPI: <c>OMPI_COMM_WORLD_RANK</c>, <c>_SIZE</c>, <c>_LOCAL_RANK</c>.</summary>
    OpenMpi,
    /// <summary><c>torchrun</c>-style: <c>RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c> (<c>MASTER_ADDR</c>, <c>MASTER_PORT</c>).</summary>
    TorchRun,
    /// <summary>Slurm's <c>srun</c>: <c>SLURM_PROCID</c>, <c>SLURM_STEP_NUM_TASKS</c>, <c>SLURM_LOCALID</c>.</summary>
    Slurm,
}

/// <summary>
/// This process's place in a data-parallel job, read from the launcher's environment variables.
/// A launcher's set applies when its world-size variable is set (then the rank and local rank must be too).
/// Precedence, first set that applies wins: Open MPI, then torchrun-style, then Slurm. Open MPI comes first
/// because the ranks of <c>mpirun</c> inside a Slurm allocation inherit the Slurm variables of the step that
/// started Open MPI's daemons (one per node, not per rank) while Open MPI's own are per rank; torchrun-style comes before Slurm because a
/// <c>torchrun</c> started once per node by <c>srun</c> sees the node's <c>SLURM_PROCID</c>, not the rank.
/// None of the sets means one process (world size 1), as does a world size of 1.
/// </summary>
/// <param name="CudaDevice">
/// The CUDA device index this rank uses: its local rank, so the ranks on one machine take one GPU each, or 0
/// when <c>CUDA_VISIBLE_DEVICES</c> shows the process exactly one GPU (<c>srun --gpus-per-task=1</c> gives
/// each task its own GPU as device 0).
/// </param>
public sealed record ProcessLaunch(LaunchSource Source, int Rank, int WorldSize, int LocalRank, int CudaDevice, string? MasterAddress = null, int? MasterPort = null)
{
    public static ProcessLaunch Single { get; } = new(LaunchSource.SingleProcess, 0, 1, 0, 0);

    /// <summary>More than one process: collectives are needed.</summary>
    public bool IsDistributed => WorldSize > 1;

    /// <summary>Rank 0 writes checkpoints, metrics and prints progress.</summary>
    public bool IsPrimary => Rank == 0;

    /// <summary>The launch of this process, from its environment.</summary>
    /// <exception cref="LaunchException">a launcher's variables are incomplete or inconsistent.</exception>
    public static ProcessLaunch FromProcessEnvironment()
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables()) variables[(string)e.Key] = e.Value as string;
        return FromVariables(variables);
    }

    /// <summary>The launch the given environment variables describe (see the precedence above).</summary>
    /// <exception cref="LaunchException">a launcher's variables are incomplete or inconsistent.</exception>
    public static ProcessLaunch FromVariables(IReadOnlyDictionary<string, string?> variables)
    {
        string? Get(string name) => variables.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        foreach (var scheme in Schemes)
        {
            string? rank = Get(scheme.Rank), size = Get(scheme.Size), local = Get(scheme.LocalRank);
            if (size is null) continue;
            if (rank is null) throw new LaunchException($"{scheme.Size} is set but {scheme.Rank} is not: {scheme.Name} must give the rank too");
            int r = ParseCount(scheme.Rank, rank, min: 0), n = ParseCount(scheme.Size, size, min: 1);
            if (r >= n) throw new LaunchException($"{scheme.Rank}={r} is not below {scheme.Size}={n}");
            // No guess from the rank: on the second machine rank 8 may be local rank 0, and the local rank picks the GPU.
            if (local is null) throw new LaunchException($"{scheme.Rank} and {scheme.Size} are set but {scheme.LocalRank} is not: {scheme.Name} must give the local rank too");
            int l = ParseCount(scheme.LocalRank, local, min: 0);
            if (l > r) throw new LaunchException($"{scheme.LocalRank}={l} is above {scheme.Rank}={r}");
            string? address = null;
            int? port = null;
            if (scheme.Source == LaunchSource.TorchRun)
            {
                address = Get("MASTER_ADDR");
                if (Get("MASTER_PORT") is { } p) port = ParsePort(p);
            }
            return new ProcessLaunch(scheme.Source, r, n, l, OnlyVisibleCudaDevice(Get("CUDA_VISIBLE_DEVICES")) ? 0 : l, address, port);
        }
        return Single;
    }

    private static bool OnlyVisibleCudaDevice(string? visible) =>
        visible is not null && visible.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length == 1;

    public override string ToString() => IsDistributed ? $"rank {Rank} of {WorldSize} (local rank {LocalRank}, {Source})" : "single process";

    private sealed record Scheme(LaunchSource Source, string Name, string Rank, string Size, string LocalRank);

    private static readonly Scheme[] Schemes =
    [
        new(LaunchSource.OpenMpi, "Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
        new(LaunchSource.TorchRun, "a torchrun-style launch", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
        // SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: a batch script sees the allocation's SLURM_NTASKS and SLURM_PROCID=0
        // although it is one process; only srun's tasks carry the step's task count.
        new(LaunchSource.Slurm, "Slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"),
    ];

    private static int ParseCount(string name, string value, int min)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min)
            throw new LaunchException($"{name}='{value}' is not a whole number >= {min}");
        return v;
    }

    private static int ParsePort(string value)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
            throw new LaunchException($"MASTER_PORT='{value}' is not a port number (1-65535)");
        return p;
    }
}

/// <summary>The launcher's variables do not describe a valid place in a job; the message names the variable.</summary>
public sealed class LaunchException(string message) : Exception(message);

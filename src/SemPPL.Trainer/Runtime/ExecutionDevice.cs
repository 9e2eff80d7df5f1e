using SemPPL.Config;
using SemPPL.Distributed.Launch;

namespace SemPPL.Trainer.Runtime;

/// <summary>What the config key <c>device</c> asks for.</summary>
public enum DeviceKind
{
    /// <summary>CUDA device 0 (a rank's own GPU in a multi-rank launch) when this build and machine can run it; otherwise the CPU, with one notice line.</summary>
    Auto,
    Cpu,
    /// <summary>CUDA; a failure to start it is an error.</summary>
    Cuda,
}

/// <summary>A parsed <c>device</c> value: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
public readonly record struct ExecutionDevice(DeviceKind Kind, int DeviceId)
{
    public const string Allowed = DeviceSyntax.Allowed;

    public static ExecutionDevice Auto => new(DeviceKind.Auto, 0);
    public static ExecutionDevice Cpu => new(DeviceKind.Cpu, 0);
    public static ExecutionDevice Cuda(int id = 0) => new(DeviceKind.Cuda, id);

    /// <summary>Parses a <c>device</c> value (case-insensitive, surrounding blanks ignored).</summary>
    /// <exception cref="ConfigException">names the key <c>device</c>, the value and what is allowed.</exception>
    public static ExecutionDevice Parse(string? value)
    {
        if (TryParse(value, out var d)) return d;
        throw new ConfigException($"device: '{value}' is not one of {Allowed}");
    }

    public static bool TryParse(string? value, out ExecutionDevice device)
    {
        device = default;
        if (!DeviceSyntax.TryParse(value, out var kind, out int id)) return false;
        device = kind switch
        {
            DeviceSyntax.Auto => Auto,
            DeviceSyntax.Cpu => Cpu,
            _ => Cuda(id),
        };
        return true;
    }

    /// <summary>
    /// The device of one rank of <paramref name="launch"/>. One process (world size 1) keeps this device exactly. In a
    /// multi-rank launch each rank takes its own GPU, <see cref="ProcessLaunch.CudaDevice"/> (its local rank, or 0 when
    /// it sees one GPU): <c>cuda</c>, <c>cuda:N</c> and <c>auto</c> name the kind of device, the launch picks which one
    /// (one index for every rank would put them all on one GPU, which NCCL refuses). <c>cpu</c> stays the CPU.
    /// </summary>
    public ExecutionDevice ForRank(ProcessLaunch launch) =>
        !launch.IsDistributed || Kind == DeviceKind.Cpu ? this : this with { DeviceId = launch.CudaDevice };

    public override string ToString() => Kind switch
    {
        DeviceKind.Auto => "auto",
        DeviceKind.Cpu => "cpu",
        _ => $"cuda:{DeviceId}",
    };
}

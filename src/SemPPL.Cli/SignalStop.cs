using System.Runtime.InteropServices;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

/// <summary>
/// SIGINT (Ctrl-C), SIGTERM and SIGUSR1 while `train` runs: the first asks the trainer to stop after the current step and
/// write a checkpoint (<see cref="StopRequest"/>); a second one stops the process at once (exit 128 + the signal's number),
/// leaving the checkpoints written so far. Registered for the lifetime of this object. SIGUSR1 is for data-parallel jobs:
/// <c>mpirun</c> forwards it to every rank and lets them finish, where its own SIGTERM handling kills the ranks a second
/// later (Slurm: <c>#SBATCH --signal=USR1@120</c> before a time limit).
/// </summary>
internal sealed class SignalStop : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;

    public SignalStop()
    {
        _registrations = OperatingSystem.IsLinux()
            ? [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
               PosixSignalRegistration.Create(LinuxSigusr1, Handle)]
            : [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    public StopRequest Request { get; } = new();

    // .NET names no SIGUSR1; a raw signal number is allowed on Unix (10 on Linux).
    private const PosixSignal LinuxSigusr1 = (PosixSignal)10;

    private void Handle(PosixSignalContext context)
    {
        string name = context.Signal switch { PosixSignal.SIGINT => "SIGINT", PosixSignal.SIGTERM => "SIGTERM", _ => "SIGUSR1" };
        context.Cancel = true;
        if (Request.Request(name))
        {
            Console.Error.WriteLine($"semppl: {name}: stopping after the current step and writing a checkpoint (send it again to stop at once)");
            return;
        }
        Console.Error.WriteLine($"semppl: second {name}: stopping now; the checkpoints written so far stay");
        int code = 128 + context.Signal switch { PosixSignal.SIGINT => 2, PosixSignal.SIGTERM => 15, _ => 10 };
        // At once: no shutdown handlers, which would tear ONNX Runtime down under the running step and print its errors.
        if (OperatingSystem.IsWindows()) Environment.Exit(code);
        ExitNow(code);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitNow(int code);

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}

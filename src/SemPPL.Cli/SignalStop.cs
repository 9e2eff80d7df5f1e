using System.Runtime.InteropServices;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM while `train` runs: the first asks the trainer to stop after the current step and write
/// a checkpoint (<see cref="StopRequest"/>); a second one stops the process at once (exit 128 + the signal's number),
/// leaving the checkpoints written so far. Registered for the lifetime of this object.
/// </summary>
internal sealed class SignalStop : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;

    public SignalStop()
    {
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    public StopRequest Request { get; } = new();

    private void Handle(PosixSignalContext context)
    {
        string name = context.Signal == PosixSignal.SIGINT ? "SIGINT" : "SIGTERM";
        context.Cancel = true;
        if (Request.Request(name))
        {
            Console.Error.WriteLine($"semppl: {name}: stopping after the current step and writing a checkpoint (send it again to stop at once)");
            return;
        }
        Console.Error.WriteLine($"semppl: second {name}: stopping now; the checkpoints written so far stay");
        int code = 128 + (context.Signal == PosixSignal.SIGINT ? 2 : 15);
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

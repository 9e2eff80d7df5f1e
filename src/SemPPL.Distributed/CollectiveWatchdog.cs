namespace SemPPL.Distributed;

/// <summary>
/// Bounds the time a blocking collective may take: when one runs past the timeout (a peer died without the
/// launcher noticing, or hangs), writes one line naming this rank and the collective to standard error and
/// ends the process with the given exit code. A blocked native call cannot be interrupted, so ending the
/// process is the only bounded way out; the launcher (mpirun, srun) then ends the other ranks.
/// One background thread; arming and disarming per call allocate nothing.
/// </summary>
public sealed class CollectiveWatchdog : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly string _rank;
    private readonly int _exitCode;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new(false);
    private long _armedAt;                 // Environment.TickCount64 when armed, 0 when idle
    private volatile string _collective = "";

    public CollectiveWatchdog(TimeSpan timeout, string rank, int exitCode)
    {
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the collective timeout must be positive");
        (_timeout, _rank, _exitCode) = (timeout, rank, exitCode);
        _thread = new Thread(Watch) { IsBackground = true, Name = "collective watchdog" };
        _thread.Start();
    }

    public TimeSpan Timeout => _timeout;

    /// <summary>Starts the clock for <paramref name="collective"/> (a constant name: no allocation).</summary>
    public void Arm(string collective)
    {
        _collective = collective;
        Volatile.Write(ref _armedAt, Math.Max(1, Environment.TickCount64));
    }

    public void Disarm() => Volatile.Write(ref _armedAt, 0);

    private void Watch()
    {
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(_timeout.TotalMilliseconds / 10, 10, 1000));
        while (!_stop.Wait(poll))
        {
            long armed = Volatile.Read(ref _armedAt);
            if (armed == 0 || Environment.TickCount64 - armed < (long)_timeout.TotalMilliseconds) continue;
            Console.Error.WriteLine($"{_rank}: {_collective} did not complete within {_timeout.TotalSeconds:0.#} s: "
                                    + "another rank died or stopped responding (the launcher's messages name it); stopping this rank");
            Console.Error.Flush();
            NativeLibraryLoader.ExitNow(_exitCode);
        }
    }

    public void Dispose()
    {
        _stop.Set();
        _thread.Join();
        _stop.Dispose();
    }
}

using System.Diagnostics;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Says what is happening when an operation outlasts <c>after</c> (from a timer thread, while the operation runs),
/// and how long it took when it ends; silent for quick ones, so small graphs do not fill the log.
/// </summary>
internal sealed class SlowOperationNotice : IDisposable
{
    private readonly Action<string> _notice;
    private readonly string _what;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Timer _timer;
    private readonly Lock _gate = new();
    private bool _printed, _done;

    public SlowOperationNotice(Action<string> notice, string what, TimeSpan after)
    {
        _notice = notice;
        _what = what;
        _timer = new Timer(_ =>
        {
            lock (_gate)
            {
                if (_done) return;
                _printed = true;
                _notice($"{_what}…");
            }
        }, null, after, Timeout.InfiniteTimeSpan);
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            if (_done) return;
            _done = true;
            if (_printed) _notice($"{_what}: done in {_clock.Elapsed.TotalSeconds:F1} s");
        }
    }
}

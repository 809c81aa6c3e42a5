using System.Diagnostics;

/// <summary>
/// Watches the guided loop's executions from a thread of its own: when one execution has
/// been running for <paramref name="after"/>, it calls <paramref name="onHang"/> with that
/// execution's input (once, from the watch thread; the execution itself is never interrupted).
/// Each execution is marked with a number, so the watch needs no clock on the hot path.
/// </summary>
sealed class HangWatch : IDisposable
{
    readonly TimeSpan _after;
    readonly Action<byte[]> _onHang;
    volatile bool _stopped;
    byte[]? _input;
    long _running;   // the running execution's number, 0 between executions
    long _count;

    public HangWatch(TimeSpan after, Action<byte[]> onHang)
    {
        (_after, _onHang) = (after, onHang);
        new Thread(Watch) { IsBackground = true, Name = "guided-hang-watch" }.Start();
    }

    public void Begin(byte[] input)
    {
        _input = input;
        Volatile.Write(ref _running, ++_count);
    }

    public void End() => Volatile.Write(ref _running, 0);

    void Watch()
    {
        long seen = 0, since = Stopwatch.GetTimestamp();
        while (!_stopped)
        {
            Thread.Sleep(250);
            long running = Volatile.Read(ref _running);
            if (running == 0 || running != seen)
            {
                (seen, since) = (running, Stopwatch.GetTimestamp());
                continue;
            }
            if (Stopwatch.GetElapsedTime(since) < _after) continue;
            var input = _input!;
            // Still the same execution: its input is the one read.
            if (Volatile.Read(ref _running) != running) continue;
            _onHang(input);
            return;
        }
    }

    public void Dispose() => _stopped = true;
}

namespace VfioFuzz.Iommufd;

/// <summary>A call into the kernel that did not return within the watchdog's limit. The
/// backend is unusable afterwards (the call may still be blocked); the runner turns this into
/// a timeout finding and the next program gets a fresh backend.</summary>
public sealed class IoctlTimeoutException(string call, TimeSpan limit)
    : Exception($"{call} did not return within {limit.TotalSeconds:0.#} s")
{
    public string Call { get; } = call;
}

/// <summary>
/// Runs each ioctl on one long-lived worker thread and waits for it with a time limit, so a
/// call stuck in the kernel becomes an <see cref="IoctlTimeoutException"/> rather than a
/// stuck campaign. The hand-off is two semaphores, no allocation per call.
/// </summary>
public sealed class IoctlWatchdog : IDisposable
{
    readonly SemaphoreSlim _go = new(0), _done = new(0);
    readonly Thread _worker;
    readonly TimeSpan _limit;
    Func<int>? _call;
    int _result, _errno;
    bool _stuck, _disposed;

    public IoctlWatchdog(TimeSpan limit)
    {
        _limit = limit;
        _worker = new Thread(Work) { IsBackground = true, Name = "iommufd-ioctl" };
        _worker.Start();
    }

    /// <summary>Runs <paramref name="call"/> (which returns -1 and sets errno on failure) and
    /// returns its result and the errno it left.</summary>
    public (int Result, int Errno) Run(string name, Func<int> call)
    {
        if (_stuck) throw new IoctlTimeoutException($"{name} (an earlier call is still blocked)", _limit);
        _call = call;
        _go.Release();
        if (!_done.Wait(_limit))
        {
            _stuck = true;
            throw new IoctlTimeoutException(name, _limit);
        }
        return (_result, _errno);
    }

    void Work()
    {
        while (true)
        {
            _go.Wait();
            if (_disposed) return;
            _result = _call!();
            _errno = _result < 0 ? Tmds.Linux.LibC.errno : 0;
            _done.Release();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_stuck) _go.Release();
    }
}

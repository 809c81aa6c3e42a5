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
/// An ioctl's argument struct is copied into memory the watchdog owns and back: a call that
/// times out may still complete later and write its answer, and that must not land in the
/// caller's stack frame, long gone by then (it did: "stack smashing detected" in the lab's
/// differential campaign, where pinning 4 GiB in a TCG guest outlasted the limit). That
/// memory is never freed once a call is stuck.
/// </summary>
public sealed unsafe class IoctlWatchdog : IDisposable
{
    /// <summary>The largest argument struct (struct iommu_test_cmd is 72 bytes).</summary>
    const int ArgBytes = 256;

    readonly SemaphoreSlim _go = new(0), _done = new(0);
    readonly Thread _worker;
    readonly TimeSpan _limit;
    readonly void* _arg = System.Runtime.InteropServices.NativeMemory.AllocZeroed(ArgBytes);
    Func<int>? _call;
    int _fd, _request;
    int _result, _errno;
    bool _stuck, _disposed;

    public IoctlWatchdog(TimeSpan limit)
    {
        _limit = limit;
        _worker = new Thread(Work) { IsBackground = true, Name = "iommufd-ioctl" };
        _worker.Start();
    }

    /// <summary>ioctl(fd, request, arg) with <paramref name="arg"/> copied to the watchdog's
    /// own memory before the call and back after it.</summary>
    public (int Result, int Errno) Ioctl<T>(string name, int fd, int request, T* arg) where T : unmanaged
    {
        if (sizeof(T) > ArgBytes) throw new ArgumentException($"{name}: a {sizeof(T)}-byte argument is larger than the watchdog's {ArgBytes}");
        Buffer.MemoryCopy(arg, _arg, ArgBytes, sizeof(T));
        (_fd, _request) = (fd, request);
        var answer = Run(name, null);
        Buffer.MemoryCopy(_arg, arg, sizeof(T), sizeof(T));
        return answer;
    }

    /// <summary>Runs <paramref name="call"/> (which returns -1 and sets errno on failure) and
    /// returns its result and the errno it left.</summary>
    public (int Result, int Errno) Run(string name, Func<int>? call)
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
            if (_disposed)
            {
                _done.Release();
                return;
            }
            _result = _call is { } call ? call() : Tmds.Linux.LibC.ioctl(_fd, _request, _arg);
            _errno = _result < 0 ? Tmds.Linux.LibC.errno : 0;
            _done.Release();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_stuck) return;   // the blocked call still owns _arg
        _go.Release();
        _done.Wait();         // the worker has seen _disposed (or finished): _arg is free
        System.Runtime.InteropServices.NativeMemory.Free(_arg);
    }
}

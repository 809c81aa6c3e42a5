using System.Diagnostics;
using VfioFuzz.Fuzzing;

namespace VfioFuzz.Cli;

/// <summary>
/// Executions and exec/s of an engine campaign from the drivers' own counters
/// (<see cref="ExecCounter"/>), true from the first seconds; the rate is over the last few
/// seconds, as AFL++'s and libFuzzer's own are.
/// </summary>
sealed class LiveExecs
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly Queue<(TimeSpan At, long Execs)> _samples = new();

    public string Folder { get; }

    /// <summary>A fresh counter folder (a previous campaign's counts are not this one's).</summary>
    public LiveExecs(string folder)
    {
        Folder = folder;
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
    }

    /// <summary>Tells a driver (or the engine that starts it, which passes its environment on) where to count.</summary>
    public void Export(ProcessStartInfo psi) => psi.Environment[ExecCounter.DirectoryVariable] = Folder;

    public long Total => ExecCounter.Total(Folder);

    /// <summary>`#N exec/s: R` now.</summary>
    public string Line()
    {
        long now = Total;
        lock (_samples)
        {
            _samples.Enqueue((_clock.Elapsed, now));
            while (_samples.Count > 2 && _clock.Elapsed - _samples.Peek().At > TimeSpan.FromSeconds(5)) _samples.Dequeue();
            var (at, then) = _samples.Peek();
            double seconds = (_clock.Elapsed - at).TotalSeconds;
            double rate = seconds > 0.1 ? (now - then) / seconds : 0;
            return $"#{now} exec/s: {rate:0}";
        }
    }
}

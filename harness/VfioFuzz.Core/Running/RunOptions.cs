using VfioFuzz.Iommufd;
using VfioFuzz.Machine;

namespace VfioFuzz.Running;

/// <summary>How to run a program: with a trace or not, the per-program wall-clock watchdog,
/// and which IOAS to use (the simulator unless told otherwise).</summary>
public sealed record RunOptions(bool Trace = false, TimeSpan? Watchdog = null, Func<Profile, HostMemory, IIoas>? Backend = null)
{
    public static readonly RunOptions Default = new();

    public TimeSpan WatchdogOrDefault => Watchdog ?? TimeSpan.FromSeconds(5);

    public IIoas CreateIoas(Profile profile, HostMemory host) => Backend?.Invoke(profile, host) ?? new SimIoas(profile, host);
}

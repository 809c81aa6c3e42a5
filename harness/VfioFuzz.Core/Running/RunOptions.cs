using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Type1;

namespace VfioFuzz.Running;

/// <summary>How to run a program: with a trace or not, the per-program wall-clock watchdog,
/// which container interface the listener drives (iommufd, type1 or both), and which kernel
/// answers each (the simulators, with a domain attached, unless told otherwise), and which
/// oracles watch (all of them, unless a measurement asks for fewer: `bench` weighs their share).</summary>
public sealed record RunOptions(bool Trace = false, TimeSpan? Watchdog = null, Func<Profile, HostMemory, IIoas>? Backend = null,
    ContainerChoice Container = ContainerChoice.Iommufd, Func<Profile, HostMemory, IType1Iommu>? Type1Backend = null,
    Func<Oracle[]>? Oracles = null)
{
    public static readonly RunOptions Default = new();

    public TimeSpan WatchdogOrDefault => Watchdog ?? TimeSpan.FromSeconds(5);

    public IIoas CreateIoas(Profile profile, HostMemory host) => Backend?.Invoke(profile, host) ?? new SimIoas(profile, host);

    public Oracle[] CreateOracles() => Oracles?.Invoke() ?? Oracle.CreateAll();

    public IType1Iommu CreateType1(Profile profile, HostMemory host) => Type1Backend?.Invoke(profile, host) ?? new SimType1(profile, host);
}

using System.CommandLine;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Running;
using VfioFuzz.Type1;

namespace VfioFuzz.Cli;

/// <summary>`--backend` and `--differential`: where the listener's DMA map/unmap calls go.</summary>
static class BackendOption
{
    public static Option<string> Create(string extra = "") => new("--backend")
    {
        Description = $"sim (the simulated IOAS, default) or iommufd (the real /dev/iommu through ioctls, with a domain attached where the kernel can: the lab's; a type1 container is served by iommufd's VFIO compatibility layer){extra}",
        DefaultValueFactory = _ => "sim",
    };

    public static Option<bool> CreateDifferential() => new("--differential")
    {
        Description = "with --backend iommufd: every call on the real kernel and on the simulator in lockstep; a different answer is a " +
                      "backend-divergence finding (needs a kernel with the lab's mock domain: harness/lab/run fuzz)",
    };

    /// <summary>The backend for sim (no factory) or iommufd, plain or differential; an error for
    /// anything else. For iommufd the device is opened once up front, so a missing /dev/iommu,
    /// EPERM or a kernel a differential run cannot use is one clear error before anything runs.</summary>
    public static bool TryCreate(string spec, bool differential, out BackendChoice? choice, out string? error)
    {
        choice = null;
        error = null;
        switch (spec)
        {
            case "sim" when differential:
                error = "--differential compares the real kernel with the simulator: give --backend iommufd";
                return false;
            case "sim":
                choice = new BackendChoice(null, null, () => "sim");
                return true;
            case "iommufd":
                KernelSessions sessions;
                try { sessions = KernelSessions.Probe(Watchdog, requireDomain: differential); }
                catch (IommufdUnavailableException e) { error = e.Message; return false; }
                // A type1 container (--container type1|both) is served by iommufd's VFIO
                // compatibility layer over the same kind of IOAS: no VFIO group is needed.
                if (!differential)
                {
                    choice = new BackendChoice((profile, host) => sessions.Open(profile, host, Watchdog),
                        (profile, host) => sessions.OpenType1Compat(profile, host, Watchdog), () => $"iommufd ({sessions.Describe})");
                    return true;
                }
                var answered = new SimulatorAnswers();
                choice = new BackendChoice((profile, host) => sessions.OpenDifferential(profile, host, Watchdog, answered),
                    (profile, host) => sessions.OpenDifferentialType1(profile, host, Watchdog),
                    () => $"iommufd --differential ({sessions.Describe}; answered by the simulator alone: {answered})");
                return true;
            default:
                error = $"unknown backend '{spec}' (sim, iommufd{(spec.StartsWith("replay:") ? "; replay:CASSETTE is for `run`" : "")})";
                return false;
        }
    }

    /// <summary>How long one ioctl may take before it is a timeout finding.</summary>
    public static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(5);
}

/// <summary>A chosen backend: the factories of the IOAS and of the type1 container (null: the
/// simulators) and what reports say of it, asked when they are written (a differential run
/// counts what the simulator answered alone).</summary>
sealed record BackendChoice(Func<Profile, HostMemory, IIoas>? Factory, Func<Profile, HostMemory, IType1Iommu>? Type1Factory, Func<string> Describe)
{
    public RunOptions Options(bool trace = false, ContainerChoice container = ContainerChoice.Iommufd) =>
        new(Trace: trace, Backend: Factory, Container: container, Type1Backend: Type1Factory);
}

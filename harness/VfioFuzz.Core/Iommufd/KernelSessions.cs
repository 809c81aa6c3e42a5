using VfioFuzz.Machine;
using VfioFuzz.Type1;

namespace VfioFuzz.Iommufd;

/// <summary>
/// How the real-kernel backends open an IOAS for a profile's run, as QEMU's would be: with a
/// domain attached before the listener maps (QEMU attaches the device first), and the
/// profile's reserved windows (an SMMU's MSI window) refused. On a kernel that cannot attach
/// one (no CONFIG_IOMMUFD_TEST, or without the lab's whole-aperture patch) the plain backend
/// falls back to a bare IOAS and says so; a differential run cannot (lazy pinning answers
/// differently from QEMU's kernel by design) and refuses with one line saying what to do.
/// </summary>
public sealed class KernelSessions
{
    readonly string _release;

    KernelSessions(MockDomain domain, string release) => (Domain, _release) = (domain, release);

    public MockDomain Domain { get; }

    /// <summary>What the report and the plan line say about the kernel side.</summary>
    public string Describe => Domain == MockDomain.WholeAperture
        ? $"kernel {_release}, a mock domain with the whole 64-bit aperture attached first"
        : $"kernel {_release}, no domain attached (pinning is lazy, a VM_PFNMAP BAR maps)";

    /// <summary>Opens /dev/iommu once to find what this kernel can attach; a missing device or
    /// EPERM is an <see cref="IommufdUnavailableException"/> here, before anything runs.</summary>
    public static KernelSessions Probe(TimeSpan watchdog, bool requireDomain)
    {
        string release = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "unknown";
        try
        {
            new IommufdIoas(new HostMemory(), watchdog, MockDomain.WholeAperture).Dispose();
            return new(MockDomain.WholeAperture, release);
        }
        catch (MockDomainUnavailableException) when (!requireDomain)
        {
            new IommufdIoas(new HostMemory(), watchdog).Dispose();
            return new(MockDomain.None, release);
        }
    }

    /// <summary>The same kernel with no domain attached (lazy pinning): what a differential
    /// run's self-check compares, where it must see the kernel differ from the simulator.</summary>
    public KernelSessions WithoutDomain() => new(MockDomain.None, _release);

    public IommufdIoas Open(Profile profile, HostMemory host, TimeSpan watchdog) =>
        new(host, watchdog, Domain, Domain == MockDomain.None ? null : profile.ReservedIovas);

    /// <summary>A type1 container as a kernel with CONFIG_IOMMUFD_VFIO_CONTAINER serves it:
    /// iommufd's VFIO compatibility layer over this kind of IOAS.</summary>
    public VfioType1Container OpenType1Compat(Profile profile, HostMemory host, TimeSpan watchdog) =>
        VfioType1Container.OnIommufdCompat(Open(profile, host, watchdog), host, watchdog);

    /// <summary>The differential type1 backend: that container and the compat layer's simulator
    /// (with the IOAS's own geometry: its alignment is what iommufd checks) in lockstep.</summary>
    public IType1Iommu OpenDifferentialType1(Profile profile, HostMemory host, TimeSpan watchdog)
    {
        var ioas = Open(profile, host, watchdog);
        var geometry = ioas.Geometry;
        return new DifferentialType1(VfioType1Container.OnIommufdCompat(ioas, host, watchdog), new SimIommufdCompat(geometry, host));
    }

    /// <summary>The differential backend: the kernel's IOAS and a simulator with the kernel's
    /// own geometry (its alignment is the host page, whatever the profile's IOMMU page), in
    /// lockstep.</summary>
    public IIoas OpenDifferential(Profile profile, HostMemory host, TimeSpan watchdog, SimulatorAnswers answered)
    {
        var kernel = Open(profile, host, watchdog);
        return new DifferentialIoas(kernel, new SimIoas(kernel.Geometry, host, profile.Kernel), answered);
    }
}

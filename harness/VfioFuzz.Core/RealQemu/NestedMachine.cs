using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Running;
using VfioFuzz.Type1;

namespace VfioFuzz.RealQemu;

/// <summary>
/// A machine the real-QEMU lab nests in its guest (harness/lab/run realqemu): the profile that
/// models it, and the type1 container its vfio-pci device gets. The mbochs mdev's container has
/// no IOMMU domain (it pins nothing and takes any IOVA); edu sits behind the outer QEMU's
/// emulated VT-d, so its container has a real domain (maps pin, the domain's reserved ranges
/// are refused) and its DMA can probe what the listener mapped (Stage-2 probes).
/// </summary>
public sealed record NestedMachine(Profile Profile, bool Domain)
{
    public static readonly NestedMachine Mbochs = new(Profile.Q35Mbochs, Domain: false);
    public static readonly NestedMachine Edu = new(Profile.Q35Edu, Domain: true);
    public static IReadOnlyList<NestedMachine> All { get; } = [Mbochs, Edu];

    /// <summary>The nested machine a profile stands for, or null for a profile the lab does not nest.</summary>
    public static NestedMachine? Of(Profile profile) => All.FirstOrDefault(m => m.Profile.Name == profile.Name);

    public static string Names => string.Join(", ", All.Select(m => m.Profile.Name));

    /// <summary>The model's side: QEMU's legacy container over a simulated type1 container that
    /// answers as this machine's kernel container does. No practical per-program watchdog: these
    /// runs are compared event by event, not checked for hangs, and the default 5 s cut the
    /// first program short in a loaded TCG guest with a cold JIT (its later ops went missing
    /// from the model's side, a divergence that was not there).</summary>
    public RunOptions Options => new(Trace: true, Watchdog: TimeSpan.FromHours(1), Container: ContainerChoice.Type1,
        Type1Backend: (profile, host) => new SimType1(IoasGeometry.Of(profile), host, Domain));

    public string ContainerText => Domain ? "type1 with an IOMMU domain, an emulated VT-d" : "type1 without a domain";
}

using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Machine;

namespace VfioFuzz.Oracles;

/// <summary>
/// Where a run is, for the oracles: the World, the container's mappings in the kernel (an
/// iommufd IOAS or a type1 container) and which interface that is, the step, and the listener callback
/// in progress (the section whose region_add/region_del is running, or none, as for an
/// unmap a patch deferred to later).
/// </summary>
public sealed class RunContext(World world, IDmaMappings mappings, ContainerKind container = ContainerKind.Iommufd)
{
    readonly List<Finding> _findings = [];
    readonly HashSet<string> _signatures = [];

    public World World { get; } = world;
    public IDmaMappings Ioas { get; } = mappings;
    public ContainerKind Container { get; } = container;
    public Profile Profile => World.Profile;
    public int Step { get; set; }
    public Section? Section { get; set; }

    /// <summary>The guest IOTLB notification being delivered, if any (its map or unmap has no
    /// section: vfio_iommu_map_notify).</summary>
    public IotlbEvent? Notification { get; set; }

    /// <summary>The RamDiscardManager notification being delivered, if any: its maps and
    /// unmaps belong to the populated blocks, not to a section.</summary>
    public (bool Populate, ulong Offset, ulong Size)? RamDiscard { get; set; }

    /// <summary>What the listener was offered for each guest IOTLB entry (kept by the runner).</summary>
    public IotlbOffers Offers { get; } = new();

    /// <summary>The listener's memory_region_ref/unref counts per owner.</summary>
    public RegionRefs Refs { get; } = new();

    /// <summary>The dirty-bitmap reads the listener's container made.</summary>
    public DirtyLog DirtyLog { get; } = new();

    /// <summary>The view the listener registered on: the sections its registration replay
    /// added at boot (a finding on one of them can say its region_add ran then).</summary>
    public FlatView? BootView { get; set; }

    /// <summary>Whether <paramref name="section"/> was in the boot view and the World still shows
    /// it (at teardown: live since boot; a section deleted and added again in between is not
    /// told apart, nor is one the current step is deleting).</summary>
    public bool SinceBoot(in Section section) => BootView is { } boot && boot.Sections.Contains(section) && World.View.Sections.Contains(section);

    /// <summary>Set for teardown: QEMU detaches every device before the last one's
    /// container unregisters its listener, so no device is left to receive an invalidation.</summary>
    public bool DevicesDetached { get; set; }

    /// <summary>Counts the calls made into the IOAS: a step that made none and left the view
    /// alone cannot change what the per-commit checks see.</summary>
    public long IoasCalls { get; set; }

    /// <summary>Counts the unmaps among them: only an unmap takes coverage away.</summary>
    public long IoasUnmaps { get; set; }

    public IReadOnlyList<Finding> Findings => _findings;

    /// <summary>Whether an oracle already reported this signature in this run: the first
    /// occurrence is the one kept, so callers skip building the text of a repeat.</summary>
    public bool Seen(string signature) => _signatures.Contains(signature);

    public void Report(Finding finding)
    {
        if (_signatures.Add(finding.Signature)) _findings.Add(finding);
    }

    /// <summary>Whether the IOAS has areas covering all of [iova, iova+length) without a gap.</summary>
    public bool Covered(ulong iova, ulong length) => Ioas.Covers(iova, length);
}

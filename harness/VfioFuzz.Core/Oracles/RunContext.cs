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
/// <remarks>One context per container: a program that unplugs the last device and plugs one
/// back gets a new context for the new container, continuing <paramref name="before"/>'s
/// findings (a run reports each signature once, whichever container showed it).</remarks>
public sealed class RunContext(World world, IDmaMappings mappings, ContainerKind container = ContainerKind.Iommufd, RunContext? before = null)
{
    readonly List<Finding> _findings = before?._findings ?? [];
    readonly HashSet<string> _signatures = before?._signatures ?? [];

    public World World { get; } = world;
    public IDmaMappings Ioas { get; } = mappings;
    public ContainerKind Container { get; } = container;
    public Profile Profile => World.Profile;
    public int Step { get; set; }
    public Section? Section { get; set; }

    /// <summary>Whether <see cref="Section"/> is being deleted (region_del) rather than added.</summary>
    public bool Deleting { get; set; }

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

    /// <summary>Whether the IOAS has areas covering all of [iova, iova+length) without a gap, or
    /// a map of it failed by injection (fail-nth): the kernel refused it, not the listener.</summary>
    public bool Covered(ulong iova, ulong length) => Ioas.Covers(iova, length) || (_injected.Count > 0 && InjectedWithin(iova, length));

    // fail-nth: maps still to pass before the armed one fails (0: none armed), and its errno.
    int _failIn;
    Errno _failWith;
    readonly List<(ulong Iova, ulong Length)> _injected = [];

    /// <summary>A fail-nth op: the <paramref name="n"/>th map from now fails with <paramref name="errno"/>.</summary>
    public void ArmFailure(int n, Errno errno) => (_failIn, _failWith) = (n, errno);

    /// <summary>Asked by the observers before each map reaches the kernel: the errno to fail it
    /// with, or Ok to let it through.</summary>
    public Errno TakeInjectedFailure()
    {
        if (_failIn == 0 || --_failIn > 0) return Errno.Ok;
        return _failWith;
    }

    /// <summary>A map failed by injection: its range is exempt from the Stage-2 checks, and when
    /// it was a RAM section's own map in region_add (not ram_device, not the vIOMMU's or a
    /// RamDiscardManager's), QEMU cannot go on: <see cref="AbortExpected"/> says why.</summary>
    public void Injected(in MapCall call)
    {
        _injected.Add((call.Iova, call.Length));
        // In a RamDiscardManager section's registration replay the first failure ends the
        // replay (virtio-mem only reports it): the plugged blocks after it stay unmapped too.
        if (Section is { } rdmSection && World.DiscardManagerOf(rdmSection.Mr) is not null)
            _injected.Add((rdmSection.Gpa, (ulong)rdmSection.Size));
        if (Section is { } s && s.Mr.IsRam && !s.Mr.IsRamDevice && !s.Mr.IsIommu && Notification is null && RamDiscard is null
            && World.DiscardManagerOf(s.Mr) is null)
        {
            if (AbortExpected is not null) return;
            AbortExpected = ExpectedAbort.RamMapFailed(s, $"the map of {s.Key} failed with {call.Result} (fail-nth)");
            _abortRange = (call.Iova, call.Length);
        }
    }

    /// <summary>A map that succeeded: when it is a retry of the range whose injected failure
    /// QEMU could not survive (NVIDIA's container maps by address after a failed MAP_FILE),
    /// the listener never saw the failure: nothing stops, and the range is mapped after all.</summary>
    public void Mapped(in MapCall call)
    {
        if (AbortExpected is null || _abortRange != (call.Iova, call.Length)) return;
        AbortExpected = null;
        _injected.Remove(_abortRange);
    }

    bool InjectedWithin(ulong iova, ulong length)
    {
        UInt128 end = (UInt128)iova + length;
        foreach (var (i, l) in _injected)
            if (i < end && iova < (UInt128)i + l) return true;
        return false;
    }

    /// <summary>Why QEMU stops the VM now, when a failure hit something it cannot do without
    /// (an injected map failure, a refused vIOMMU notifier): an abort of the target is then
    /// QEMU's own reaction, not a finding, and a target that goes on is one.</summary>
    public ExpectedAbort? AbortExpected { get; set; }

    /// <summary>The range whose failed map <see cref="AbortExpected"/> is about, if a map's.</summary>
    (ulong Iova, ulong Length) _abortRange;

    /// <summary>The listener's registration is over (bc->initialized): a failed RAM map aborts
    /// from now on; before, it fails the registration.</summary>
    public bool ListenerInitialized { get; set; }
}

using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>One guest IOTLB mapping: IOVA -> GPA for a size, read-only unless writable.</summary>
public sealed record IotlbEntry(ulong Iova, ulong Size, ulong Gpa, bool Writable)
{
    public UInt128 End => (UInt128)Iova + Size;
}

/// <summary>An IOTLB notification as memory_region_notify_iommu delivers it: MAP carries the
/// translated GPA and permission, UNMAP only the IOVA range.</summary>
public readonly record struct IotlbEvent(bool IsMap, ulong Iova, ulong Size, ulong Gpa, bool Writable);

/// <summary>An IOMMU notifier a listener registered for [Start, End] of the IOMMU region.</summary>
public sealed class IommuNotifier(ulong start, ulong end, Action<IotlbEvent> notify)
{
    public ulong Start { get; } = start;
    public ulong End { get; } = end;
    public void Notify(in IotlbEvent e) => notify(e);
    public bool Covers(ulong iova) => iova >= Start && iova <= End;
}

/// <summary>
/// The guest's vIOMMU (an SMMUv3 or VT-d as QEMU emulates it) in the device's address space:
/// when enabled the device AS holds its IOMMU region instead of system memory, the guest
/// programs IOTLB entries, and each change is notified to the registered notifiers (QEMU:
/// memory_region_notify_iommu). Replay on registration walks the entries in range, as a
/// vIOMMU's replay hook does.
/// The IOMMU region is 2^64 bytes (memory_region_init_iommu with UINT64_MAX: SMMUv3 since its
/// "Support 64-bit addresses" change, after 7.2, whose region was 2^48; virtio-iommu and VT-d
/// in 7.2 already), so its section is [0, 2^64) and region_del takes the unmap-all path.
/// Not modelled: VT-d's interrupt window at 0xfee00000, which splits VT-d's IOMMU section in
/// two (hw/i386/intel_iommu.c, vtd-ir): every profile's vIOMMU has the one section.
/// </summary>
public sealed class Viommu
{
    /// <summary>The input addresses the guest's IOTLB entries use: 48 bits (SMMUv3 IAS, VT-d
    /// 4-level); the region itself spans all 64.</summary>
    public const ulong InputRange = 1UL << 48;

    readonly SortedList<ulong, IotlbEntry> _entries = [];
    readonly List<IommuNotifier> _notifiers = [];

    public MemoryRegion Region { get; } = new("viommu iommu", RegionKind.Iommu, (UInt128)ulong.MaxValue + 1, RegionRole.Viommu, Owner: null);

    public ViommuKind Kind { get; }

    public Viommu(ViommuKind kind) => Kind = kind;

    public bool Enabled { get; set; }

    /// <summary>Why this vIOMMU refuses the MAP notifier a listener registers (its
    /// notify_flag_changed error), or null when it accepts one.</summary>
    public string? MapNotifierRefusal => Kind == ViommuKind.EmulatedSmmuv3
        ? "smmuv3_notify_flag_changed: the device requires iommu MAP notifier which is not currently supported"
        : null;

    public IList<IotlbEntry> Entries => _entries.Values;

    public IReadOnlyList<IommuNotifier> Notifiers => _notifiers;

    /// <summary>memory_region_register_iommu_notifier: the vIOMMU's notify_flag_changed may
    /// refuse the notifier (<see cref="MapNotifierRefusal"/>), and then nothing is registered.</summary>
    public IommuNotifier? Register(ulong start, ulong end, Action<IotlbEvent> notify, out string? error)
    {
        error = MapNotifierRefusal;
        if (error is not null) return null;
        var n = new IommuNotifier(start, end, notify);
        _notifiers.Add(n);
        return n;
    }

    /// <summary>memory_region_unregister_iommu_notifier.</summary>
    public void Unregister(IommuNotifier notifier) => _notifiers.Remove(notifier);

    /// <summary>memory_region_iommu_replay: a MAP for every entry the notifier covers.</summary>
    public void Replay(IommuNotifier notifier)
    {
        foreach (var e in _entries.Values.ToArray())
            if (notifier.Covers(e.Iova)) notifier.Notify(new IotlbEvent(true, e.Iova, e.Size, e.Gpa, e.Writable));
    }

    /// <summary>The entry translating an IOVA, if any.</summary>
    public IotlbEntry? Lookup(ulong iova)
    {
        foreach (var e in _entries.Values)
            if (iova >= e.Iova && iova < e.End) return e;
        return null;
    }

    public bool Overlaps(ulong iova, ulong size)
    {
        foreach (var e in _entries.Values)
            if (e.Iova < (UInt128)iova + size && iova < e.End) return true;
        return false;
    }

    public void Add(IotlbEntry entry) => _entries.Add(entry.Iova, entry);

    public bool Remove(ulong iova, out IotlbEntry? entry)
    {
        bool removed = _entries.Remove(iova, out var e);
        entry = e;
        return removed;
    }

    /// <summary>Back to boot: no entries, disabled unless the vIOMMU's region is the device
    /// address space's root from boot (an emulated SMMUv3); notifiers belong to the run's
    /// listener and are dropped with it.</summary>
    public void Reset()
    {
        Enabled = Kind == ViommuKind.EmulatedSmmuv3;
        _entries.Clear();
        _notifiers.Clear();
    }
}

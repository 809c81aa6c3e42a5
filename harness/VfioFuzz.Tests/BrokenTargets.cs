using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.Tests;

// Targets that break one rule each, to prove the oracle for that rule fires. They live in the
// test assembly, so the catalog (which reads targets/) never offers them to users.

/// <summary>Never unmaps: every mapping outlives its section.</summary>
sealed class NeverUnmaps : VfioListener
{
    public override TargetInfo Info { get; } = new("test-never-unmaps", "test", [], "");
    protected override bool SkipDmaUnmap(in Section s) => true;
}

/// <summary>Maps half a host page past the section start: a misaligned IOVA.</summary>
sealed class MisalignedMap : ListenerTarget
{
    public override TargetInfo Info { get; } = new("test-misaligned", "test", [], "");

    public override void RegionAdd(in Section s)
    {
        if (!s.Mr.IsRam || s.Mr.IsRamDevice) return;
        Env.Ioas.Map(s.Gpa + 0x800, 0x1000, Env.Host[s.Mr].Va,
            Iommufd.IoasMapFlags.FixedIova | Iommufd.IoasMapFlags.Readable);
    }

    public override void RegionDel(in Section s) { }
}

/// <summary>Throws on the first region_del, as a buggy model would.</summary>
sealed class ThrowsOnDel : VfioListener
{
    public override TargetInfo Info { get; } = new("test-throws", "test", [], "");
    public override void RegionDel(in Section s) => throw new InvalidOperationException("model bug");
}

/// <summary>Forgets to unregister its IOMMU notifier on region_del (upstream's flush still runs).</summary>
sealed class KeepsIommuNotifier : VfioListener
{
    public override TargetInfo Info { get; } = new("test-keeps-notifier", "test", [], "");
    protected override void UnregisterGuestIommu(in Section s) { }
}

/// <summary>region_del's dirty-sync entry carries the section's ram_addr instead of the IOVA
/// (what a fix of upstream's identity entry would pass).</summary>
sealed class DirtyEntryAtRamAddr : VfioListener
{
    public override TargetInfo Info { get; } = new("test-dirty-entry-at-ram-addr", "test", [], "");
    protected override ulong DirtyEntryTranslatedAddr(in Section s, ulong iova) => Env.Host.RamAddr(s, iova);
}

/// <summary>Carries on when the vIOMMU refuses its MAP notifier, as if the IOMMU section
/// needed nothing (the guest's IOTLB mappings then never reach the IOAS).</summary>
sealed class IgnoresRefusedNotifier : VfioListener
{
    public override TargetInfo Info { get; } = new("test-ignores-refused-notifier", "test", [], "");
    protected override void IommuNotifierRefused(in Section s, string error) { }
}

/// <summary>Like the sPAPR window-add failure (qemu-listener.md §1.7): a ram_device section
/// returns before memory_region_ref, but region_del still unrefs it.</summary>
sealed class NoRefForRamDevice : VfioListener
{
    public override TargetInfo Info { get; } = new("test-no-ref-ram-device", "test", [], "");
    protected override void RefSection(in Section s)
    {
        if (!s.Mr.IsRamDevice) base.RefSection(s);
    }
}

/// <summary>Never drops a ref on region_del of RAM (the unref is forgotten).</summary>
sealed class KeepsRamRef : VfioListener
{
    public override TargetInfo Info { get; } = new("test-keeps-ram-ref", "test", [], "");
    protected override void RefSection(in Section s)
    {
        base.RefSection(s);
        if (s.Mr.Role == RegionRole.GuestRam) base.RefSection(s);   // one extra per RAM add
    }
}

/// <summary>Ignores RamDiscardManager discards: unplugged virtio-mem blocks stay mapped.</summary>
sealed class IgnoresDiscard : VfioListener
{
    public override TargetInfo Info { get; } = new("test-ignores-discard", "test", [], "");
    protected override void NotifyDiscard(Section s, ulong offset, ulong size) { }
}

/// <summary>Answers populate for odd blocks without mapping them (an off-by-one in the chunk walk).</summary>
sealed class SkipsOddBlocks : VfioListener
{
    public override TargetInfo Info { get; } = new("test-skips-odd-blocks", "test", [], "");
    protected override int NotifyPopulate(Section s, ulong offset, ulong size) =>
        offset / Machine.VirtioMem.BlockSize % 2 == 1 ? 0 : base.NotifyPopulate(s, offset, size);
}

/// <summary>QEMU before 11.0: region_del passes no IOTLB entry, so nothing reads the dirty
/// bits before the unmap while migration tracks them.</summary>
sealed class NoDirtySyncOnDel : VfioListener
{
    public override TargetInfo Info { get; } = new("test-no-dirty-sync", "test", [], "");
    protected override bool SyncsDirtyOnDel(in Section s) => false;
}

/// <summary>Sends each guest IOTLB UNMAP to the IOAS twice (a duplicate vIOMMU UNMAP, as QEMU history had).</summary>
sealed class DoubleIotlbUnmap : VfioListener
{
    public override TargetInfo Info { get; } = new("test-double-iotlb-unmap", "test", [], "");

    protected override void NotifyUnmap(ulong iova, ulong size, ulong gpa)
    {
        base.NotifyUnmap(iova, size, gpa);
        base.NotifyUnmap(iova, size, gpa);
    }
}

/// <summary>region_del of a ram_device without the minimum-page mirror: it unmaps what region_add
/// never mapped when the IOMMU page is larger than the section (only reachable where the IOMMU
/// page exceeds the host page).</summary>
sealed class DelIgnoresMinPage : VfioListener
{
    public override TargetInfo Info { get; } = new("test-del-ignores-min-page", "test", [], "");

    protected override bool TryUnmapRamDevice(ulong iova, UInt128 llsize) => true;
}

/// <summary>region_del trims one host page too many off the end: the unmap is shorter than the
/// map (a del-side trim off by one, as QEMU history had).</summary>
sealed class DelTrimOffByOne : VfioListener
{
    public override TargetInfo Info { get; } = new("test-del-trim-off-by-one", "test", [], "");

    protected override void DmaUnmap(in Section s, ulong iova, UInt128 llsize) =>
        base.DmaUnmap(s, iova, llsize > Env.HostPageSize ? llsize - Env.HostPageSize : llsize);
}

/// <summary>Keeps its own list of the IOTLB entries it mapped and never prunes it on the guest's
/// UNMAP; at the window's deletion it unmaps every entry on the list: an entry the guest
/// already unmapped is unmapped twice.</summary>
sealed class StaleIotlbListAtWindowDeletion : VfioListener
{
    public override TargetInfo Info { get; } = new("test-stale-iotlb-list", "test", [], "");

    readonly List<(ulong Iova, ulong Size)> _mapped = [];

    protected override bool SkipNotifyMap(in Section target, ulong iova, ulong size)
    {
        _mapped.Add((iova, size));
        return false;
    }

    protected override void UnregisterGuestIommu(in Section s)
    {
        base.UnregisterGuestIommu(s);
        foreach (var (iova, size) in _mapped) NotifyUnmap(iova, size, gpa: iova);   // its test runs without dirty tracking
        _mapped.Clear();
    }
}

/// <summary>region_del rounds the section's start down to the host page instead of up (a
/// del-side trim that disagrees with add's): where a section starts inside a page (a mmap piece
/// after a sub-page MSI-X table) it unmaps from the page's start.</summary>
sealed class DelRoundsStartDown : VfioListener
{
    public override TargetInfo Info { get; } = new("test-del-rounds-start-down", "test", [], "");

    protected override void DmaUnmap(in Section s, ulong iova, UInt128 llsize)
    {
        ulong down = s.Gpa & ~(Env.HostPageSize - 1);
        base.DmaUnmap(s, down, llsize + (iova - down));
    }
}

/// <summary>Turns the hw_error after a failed RAM map into a warning and carries on (a patch
/// that "keeps the VM alive"): the RAM stays out of the IOMMU.</summary>
sealed class IgnoresRamMapFailure : VfioListener
{
    public override TargetInfo Info { get; } = new("test-ignores-ram-map-failure", "test", [], "");

    public override void RegionAdd(in Section s)
    {
        try { base.RegionAdd(s); }
        catch (QemuAbortException) { }
    }

    public override void Initialized()
    {
        try { base.Initialized(); }
        catch (QemuAbortException) { }
    }
}

/// <summary>Aborts where QEMU only warns: a failed map of device memory (ram_device).</summary>
sealed class AbortsOnDeviceMapFailure : VfioListener
{
    public override TargetInfo Info { get; } = new("test-aborts-on-device-map-failure", "test", [], "");

    protected override void ReportRamDeviceMapFailure(in Section s, string err) => throw new QemuAbortException(err);
}

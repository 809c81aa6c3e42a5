using VfioFuzz.Iommufd;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// While migration tracks dirty pages, a writable mapping must not leave the IOAS before its
/// dirty bits are read: the pages the device wrote since the last sync would be lost and the
/// destination would get stale guest memory. Upstream 11.0 reads them on region_del (an
/// identity IOTLB entry) and on a vIOMMU UNMAP (the entry itself), and marks them at the
/// entry's translated_addr taken as a ram_addr (<see cref="Misattributed"/>).
/// Where upstream itself unmaps without a read, the finding is its own family,
/// <c>dirty-lost:upstream-gap:&lt;role&gt;</c>: the discard a RamDiscardManager section's
/// region_del sends for its plugged blocks (vfio_ram_discard_notify_discard passes no IOTLB
/// entry, qemu-listener.md §1.4; e.g. the device's address space switching to the vIOMMU's
/// mid-migration). Not held to the rule: the one big unmap of a deleted vIOMMU window, because
/// upstream relies on the vIOMMU to send its own UNMAPs, each with an entry, before it switches
/// (the identity-entry patch's comment names VT-d's vtd_address_space_unmap_in_dirty_tracking),
/// which this model's vIOMMU does not, and whether SMMUv3 or virtio-iommu do is not known here;
/// a guest's virtio-mem unplug (refused while migrating, as a plug is); and teardown (QEMU refuses device_del
/// while migrating, "device_del not allowed while migrating", so no teardown unmap happens during one).
/// </summary>
public sealed class DirtyTrackingOracle : Oracle
{
    public override void OnUnmap(RunContext ctx, in UnmapCall call)
    {
        try
        {
            if (!ctx.World.DirtyTracking || ctx.DevicesDetached || call.Removed.Count == 0) return;
            if (ctx.RamDiscard is not null || ctx.Section is { Mr.IsIommu: true }) return;
            // A RamDiscardManager section: its region_del's discard is upstream's own gap; its
            // region_add unmaps only a populate it rolls back (nothing there was dirtied yet).
            bool rdmSection = ctx.Section is { } sec0 && ctx.World.DiscardManagerOf(sec0.Mr) is not null;
            if (rdmSection && !ctx.Deleting) return;
            for (int i = 0; i < call.Removed.Count; i++)
            {
                var area = call.Removed[i];
                if (!area.Writeable) continue;
                if (ctx.DirtyLog.Covers(area.Iova, area.End))
                {
                    if (Misattributed(ctx, area)) return;
                    continue;
                }
                var role = ctx.Section?.Mr.Role ?? (ctx.World.Viommu.Enabled ? null : ctx.World.SystemView.Find(area.Iova)?.Mr.Role) ?? RegionRole.GuestRam;
                string sig = $"{FindingKinds.DirtyLost}:{(rdmSection ? "upstream-gap" : "unmap-without-sync")}:{role.Name()}";
                if (ctx.Seen(sig)) return;
                ctx.Report(new Finding(FindingKinds.DirtyLost, sig, ctx.Step,
                    $"[0x{area.Iova:x}, 0x{area.End:x}) left the IOAS during migration without its dirty bits being read" +
                    (ctx.Section is { } sec ? $" (region_del of {sec.Key})" : " (outside any region_del)"),
                    (rdmSection
                        ? "Upstream's own gap: a RamDiscardManager section's region_del unregisters its listener, whose discard of the " +
                          "plugged blocks unmaps them with no IOTLB entry (vfio_ram_discard_notify_discard), so nothing reads their dirty bits. "
                        : "") +
                    "With global dirty tracking on, an unmap must carry an IOTLB entry so the backend reads the dirty bitmap of the " +
                    "range first (11.0's identity entry in region_del). Without it, pages the device wrote since the last sync are " +
                    "never sent: the destination VM runs on stale memory.",
                    "silent guest memory corruption after migration"));
                return;
            }
        }
        finally { ctx.DirtyLog.Clear(); }   // a read only answers the unmap right after it
    }

    /// <summary>A region_del of guest RAM whose dirty bits were read before the unmap but
    /// marked at another ram_addr than the section's own: the backend marks them at the IOTLB
    /// entry's translated_addr taken as a ram_addr, and upstream's identity entry passes the
    /// IOVA (the GPA), which is that ram_addr only where GPA and ram_addr coincide. Migration
    /// then resends the wrong pages and never the ones the device wrote. Judged for guest RAM
    /// in region_del only: a vIOMMU UNMAP entry's translated_addr is not modelled, and device
    /// memory (ram_device) is not migrated as RAM.</summary>
    static bool Misattributed(RunContext ctx, in IoasArea area)
    {
        if (ctx.Section is not { } s || s.Mr.Kind != RegionKind.Ram || ctx.Notification is not null || ctx.RamDiscard is not null
            || area.Iova < s.Gpa || area.Iova >= s.End)
            return false;
        ulong ramAddr = ctx.World.Host.RamAddr(s, area.Iova);
        if (ctx.DirtyLog.MarkedAt(area.Iova) is not { } marked || marked == ramAddr) return false;
        string sig = $"{FindingKinds.DirtyLost}:misattributed:{s.Mr.Role.Name()}";
        if (ctx.Seen(sig)) return true;
        ctx.Report(new Finding(FindingKinds.DirtyLost, sig, ctx.Step,
            $"region_del of {s.Key} read the dirty bits of [0x{area.Iova:x}, 0x{area.End:x}) before the unmap but marked them at " +
            $"ram_addr 0x{marked:x}; the section's RAMBlock holds them at ram_addr 0x{ramAddr:x}",
            "The backend marks the bits it reads at the IOTLB entry's translated_addr, taken as a ram_addr " +
            "(vfio_container_query_dirty_bitmap -> physical_memory_set_dirty_lebitmap). region_del's identity entry passes " +
            "the IOVA, the guest-physical address, which is the ram_addr only where the two coincide.",
            "silent guest memory corruption after migration: the pages the device wrote are never resent, others are"));
        return true;
    }
}

using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// What the listener was last offered for each guest IOTLB entry (by IOVA): the memory its
/// GPA translated to, and whether that was mappable (a whole IOMMU page of RAM). An entry is
/// offered when the guest maps it, and again when the vIOMMU window comes back (the
/// notifier's replay). Upstream QEMU itself refuses a MAP of MMIO, of memory that has gone, of
/// discarded memory (an unplugged virtio-mem block), or across a region's end (logged): only a
/// mappable offer obliges the listener to map.
/// </summary>
public sealed class IotlbOffers
{
    readonly Dictionary<ulong, (bool Mappable, RegionRole Role)> _offers = [];
    bool _windowLive;

    public (bool Mappable, RegionRole Role) this[ulong iova] => _offers.GetValueOrDefault(iova, (false, RegionRole.Mmio));

    /// <summary>Before a notification is delivered.</summary>
    public void Notified(World world, in IotlbEvent e)
    {
        if (e.IsMap) _offers[e.Iova] = Offer(world, e.Gpa, e.Size);
    }

    /// <summary>After every commit: the one that made the vIOMMU window live replayed every
    /// entry, as system memory is now (it cannot change inside that transaction).</summary>
    public void Committed(World world)
    {
        bool live = world.Viommu.Enabled;
        if (live && !_windowLive)
            foreach (var entry in world.Viommu.Entries) _offers[entry.Iova] = Offer(world, entry.Gpa, entry.Size);
        _windowLive = live;
    }

    /// <summary>Memory an unplugged virtio-mem block holds is discarded: QEMU refuses to map it
    /// too, so it is no offer (else an UNMAP of it would look like a skipped MAP).</summary>
    static (bool Mappable, RegionRole Role) Offer(World world, ulong gpa, ulong size) =>
        world.SystemView.Find(gpa) is { } t
            ? (t.Mr.IsRam && (UInt128)gpa + size <= t.End
               && (world.DiscardManagerOf(t.Mr) is not { } rdm || rdm.IsPopulatedRange(t.OffsetInRegion + (gpa - t.Gpa), size)), t.Mr.Role)
            : (false, RegionRole.Mmio);
}

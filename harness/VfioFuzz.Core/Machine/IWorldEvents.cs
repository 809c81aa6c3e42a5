using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>What the World tells whoever drives the listener. A transaction is one
/// memory_region_transaction_commit that changed the view; the receiver turns the two views
/// into begin, region_del..., region_add..., commit.</summary>
public interface IWorldEvents
{
    void Transaction(FlatView before, FlatView after);
    void DeviceStateChanged(PciDevice device);
    void AtsAccess(PciDevice device, ulong gpa);

    /// <summary>The guest changed its vIOMMU mappings: notify the registered notifiers.</summary>
    void Iotlb(in IotlbEvent e);

    /// <summary>virtio-mem populates [offset, +size) of its region: false when a listener failed
    /// (the ones before it have been told to discard again).</summary>
    bool RamPopulate(VirtioMem vmem, ulong offset, ulong size);

    /// <summary>virtio-mem discards [offset, +size) of its region.</summary>
    void RamDiscard(VirtioMem vmem, ulong offset, ulong size);

    /// <summary>Migration starts or stops global dirty tracking.</summary>
    void DirtyTracking(bool started);

    /// <summary>A fail-nth op: the Nth map call from here on fails with <paramref name="errno"/>
    /// (nothing changes in the World).</summary>
    void FailNth(int n, VfioFuzz.Iommufd.Errno errno) { }

    /// <summary>A device left the machine (its BARs already gone from the view) or came back.</summary>
    void DeviceHotplug(PciDevice device, bool plugged) { }
}

/// <summary>For callers that only need the World's state (the decoder resolving handles).</summary>
public sealed class IgnoreWorldEvents : IWorldEvents
{
    public static readonly IgnoreWorldEvents Instance = new();
    public void Transaction(FlatView before, FlatView after) { }
    public void DeviceStateChanged(PciDevice device) { }
    public void AtsAccess(PciDevice device, ulong gpa) { }
    public void Iotlb(in IotlbEvent e) { }
    public bool RamPopulate(VirtioMem vmem, ulong offset, ulong size) => true;
    public void RamDiscard(VirtioMem vmem, ulong offset, ulong size) { }
    public void DirtyTracking(bool started) { }
}

using VfioFuzz.Listener;
using VfioFuzz.Memory;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// The container API the listener calls (hw/vfio/container.c vfio_container_dma_map/unmap),
/// whichever kernel interface is behind it: <see cref="IommufdContainer"/> or
/// <see cref="LegacyContainer"/> (type1). Both return 0 or -errno, as QEMU does.
/// </summary>
public abstract class VfioContainer(ListenerEnvironment env)
{
    protected ListenerEnvironment Env { get; } = env;

    /// <summary>bc->pgsizes: the IOMMU page sizes the container reported (only the smallest
    /// is used, for the ram_device test).</summary>
    public abstract ulong Pgsizes { get; }

    /// <summary>vfio_container_set_dirty_page_tracking: on between log_global_start and stop.</summary>
    public bool DirtyTrackingStarted { get; set; }

    public abstract int DmaMap(ulong iova, ulong size, MemoryRegion mr, ulong vaddr, bool readOnly);

    /// <summary>size == 2^64 is unmap_all. With an IOTLB entry (<paramref name="iotlb"/>) while
    /// dirty tracking is on, the dirty bits of the range are read as part of the unmap.</summary>
    /// <summary>vfio_container_dma_unmap. <paramref name="translatedAddr"/> is the
    /// translated_addr of the IOTLB entry the listener passes (null when it passes none):
    /// while dirty tracking is on the backend reads the range's dirty bits first and marks
    /// them at that address as a ram_addr (vfio_container_query_dirty_bitmap ->
    /// physical_memory_set_dirty_lebitmap).</summary>
    public abstract int DmaUnmap(ulong iova, UInt128 size, ulong? translatedAddr = null);

    protected static bool IsUnmapAll(UInt128 size) => size == (UInt128)ulong.MaxValue + 1;
}

using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Type1;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// QEMU's legacy container (hw/vfio/container-legacy.c, upstream 11.0; qemu-listener.md §3.2)
/// over a type1 kernel container. A map is VFIO_IOMMU_MAP_DMA by vaddr with READ, and WRITE
/// unless read-only (whatever backs the RAMBlock: no MAP_FILE here); one that fails with EBUSY
/// is unmapped and tried once more. An unmap is VFIO_IOMMU_UNMAP_DMA; unmap_all is one call
/// with VFIO_DMA_UNMAP_FLAG_ALL when the kernel has VFIO_UNMAP_ALL, else the two halves of the
/// 64-bit space (the ioctl takes no full 64-bit span). A range with nothing mapped is success
/// from the kernel itself. Returns 0 or -errno and prints nothing: the listener reports.
///
/// QEMU traces none of these calls; the lines this model emits are the ones the real-QEMU
/// lab's LD_PRELOAD shim (harness/lab/vfio-ioctl-log.c) logs for a real QEMU, so a model
/// trace and a real recording read alike.
/// </summary>
public class LegacyContainer(ListenerEnvironment env, IType1Iommu kernel) : VfioContainer(env)
{
    /// <summary>iova_pgsizes of VFIO_IOMMU_GET_INFO.</summary>
    public override ulong Pgsizes => kernel.IovaPgsizes;

    public override int DmaMap(ulong iova, ulong size, MemoryRegion mr, ulong vaddr, bool readOnly)
    {
        var flags = Type1MapFlags.Read | (readOnly ? Type1MapFlags.None : Type1MapFlags.Write);
        var err = Map(iova, size, vaddr, flags);
        if (err == Errno.EBUSY && DmaUnmap(iova, size) == 0) err = Map(iova, size, vaddr, flags);
        return -(int)err;
    }

    protected IType1Iommu Kernel => kernel;

    protected Errno Map(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags)
    {
        var err = kernel.MapDma(iova, size, vaddr, flags);
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_fuzz_type1_map_dma",
                $"iova=0x{iova:x} size=0x{size:x} vaddr=0x{vaddr:x} flags=0x{(uint)flags:x} ret={(err == Errno.Ok ? 0 : -1)} errno={(int)err}");
        return err;
    }

    public override int DmaUnmap(ulong iova, UInt128 size, ulong? translatedAddr = null)
    {
        if (!IsUnmapAll(size)) return UnmapOne(iova, (ulong)size, translatedAddr, Type1UnmapFlags.None);
        if (kernel.UnmapAllSupported) return UnmapOne(0, 0, translatedAddr, Type1UnmapFlags.All);
        const ulong half = 1UL << 63;
        int ret = UnmapOne(0, half, translatedAddr, Type1UnmapFlags.None);
        return ret == 0 ? UnmapOne(half, half, translatedAddr, Type1UnmapFlags.None) : ret;
    }

    /// <summary>vfio_legacy_dma_unmap_one. With an IOTLB entry while dirty tracking is on, the
    /// dirty bits of the range are kept: with type1's own tracking the same UNMAP_DMA returns
    /// them (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP), with device tracking they are queried after
    /// it from the device's log, which the unmap does not clear. Either way none is lost, so
    /// the model reads them just before the call (the kernel's dirty bitmap is not modelled).</summary>
    protected int UnmapOne(ulong iova, ulong size, ulong? translatedAddr, Type1UnmapFlags flags)
    {
        ulong asked = size;
        if (translatedAddr is { } marked && DirtyTrackingStarted) Env.DirtyLog?.Sync(iova, asked, marked);
        var err = kernel.UnmapDma(iova, ref size, flags);
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_fuzz_type1_unmap_dma",
                $"iova=0x{iova:x} size=0x{asked:x} unmapped=0x{size:x} flags=0x{(uint)flags:x} ret={(err == Errno.Ok ? 0 : -1)} errno={(int)err}");
        return -(int)err;
    }
}

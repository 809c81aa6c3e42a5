using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Type1;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// QEMU 7.2's type1 container calls (hw/vfio/common.c vfio_dma_map/vfio_dma_unmap, read in
/// Debian's qemu 7.2+dfsg source; modelled from behaviour): as the legacy container, except
/// that each failed call reports itself ("VFIO_MAP_DMA failed: %s", "VFIO_UNMAP_DMA failed:
/// %s"), that there is no unmap-all (7.2's listener splits a 2^64 section into two halves
/// itself), and the overflow workaround: an UNMAP_DMA that fails with EINVAL while its range
/// reaches 2^64 is retried one IOMMU page shorter (for the type1 off-by-one of kernels 4.15 to
/// 5.0), traced as vfio_dma_unmap_overflow_workaround. Kernels since answer such a range with
/// success and nothing unmapped (the type1 conformance recording), so there the retry never runs.
/// </summary>
public sealed class Qemu72Container(ListenerEnvironment env, IType1Iommu kernel) : LegacyContainer(env, kernel)
{
    public override int DmaMap(ulong iova, ulong size, MemoryRegion mr, ulong vaddr, bool readOnly)
    {
        int ret = base.DmaMap(iova, size, mr, vaddr, readOnly);
        if (ret != 0) Env.Trace.Stderr($"VFIO_MAP_DMA failed: {ErrnoText((Errno)(-ret))}");
        return ret;
    }

    public override int DmaUnmap(ulong iova, UInt128 size, ulong? translatedAddr = null)
    {
        if (!IsUnmapAll(size)) return Unmap(iova, (ulong)size, translatedAddr);
        // The listener's split of a full 64-bit section ("the unmap ioctl doesn't accept a
        // full 64-bit span"): both halves are unmapped and each error reported.
        const ulong half = 1UL << 63;
        int first = Unmap(0, half, translatedAddr), second = Unmap(half, half, translatedAddr);
        return first != 0 ? first : second;
    }

    int Unmap(ulong iova, ulong size, ulong? translatedAddr)
    {
        int ret = UnmapOne(iova, size, translatedAddr, Type1UnmapFlags.None);
        ulong page = Kernel.IovaPgsizes & (~Kernel.IovaPgsizes + 1);
        while (ret == -(int)Errno.EINVAL && size > page && (UInt128)iova + size == (UInt128)ulong.MaxValue + 1)
        {
            if (Env.Trace.Enabled) Env.Trace.Emit("vfio_dma_unmap_overflow_workaround", "");
            size -= page;
            ret = UnmapOne(iova, size, translatedAddr, Type1UnmapFlags.None);
        }
        if (ret != 0) Env.Trace.Stderr($"VFIO_UNMAP_DMA failed: {ErrnoText((Errno)(-ret))}");
        return ret;
    }

    static string ErrnoText(Errno e) => VfioFuzz.Traces.ErrnoText.Describe((int)e);
}

using VfioFuzz.Iommufd;

namespace VfioFuzz.Type1;

/// <summary>
/// A legacy VFIO container (/dev/vfio/vfio with VFIO_TYPE1v2_IOMMU set) at the level of the
/// ioctls QEMU's legacy container makes: VFIO_IOMMU_GET_INFO (iova_pgsizes),
/// VFIO_CHECK_EXTENSION(VFIO_UNMAP_ALL), VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA,
/// answering errno as drivers/vfio/vfio_iommu_type1.c does. What it holds (its vfio_dma
/// entries) is read through <see cref="IDmaMappings"/>.
/// </summary>
public interface IType1Iommu : IDmaMappings
{
    /// <summary>iova_pgsizes of VFIO_IOMMU_GET_INFO: QEMU's pgsizes for this container.</summary>
    ulong IovaPgsizes { get; }

    /// <summary>Whether VFIO_CHECK_EXTENSION(VFIO_UNMAP_ALL) answers yes (type1 since 5.12).</summary>
    bool UnmapAllSupported { get; }

    Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags);

    /// <summary>On return <paramref name="size"/> is what the kernel wrote back: the bytes
    /// unmapped (0 when the call failed).</summary>
    Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags);
}

/// <summary>vfio_iommu_type1_dma_map.flags (include/uapi/linux/vfio.h).</summary>
[Flags]
public enum Type1MapFlags : uint
{
    None = 0,
    Read = 1 << 0,
    Write = 1 << 1,
    Vaddr = 1 << 2,
}

/// <summary>vfio_iommu_type1_dma_unmap.flags (include/uapi/linux/vfio.h).</summary>
[Flags]
public enum Type1UnmapFlags : uint
{
    None = 0,
    GetDirtyBitmap = 1 << 0,
    All = 1 << 1,
    Vaddr = 1 << 2,
}

using VfioFuzz.Iommufd;

namespace VfioFuzz.Oracles;

/// <summary>A map the listener asked the kernel for (IOMMU_IOAS_MAP, MAP_FILE or VFIO_IOMMU_MAP_DMA)
/// and the answer; <paramref name="Injected"/> when a fail-nth op failed it before the kernel saw it.</summary>
public readonly record struct MapCall(ulong Iova, ulong Length, bool File, IoasMapFlags Flags, Errno Result, bool Injected = false)
{
    public UInt128 End => (UInt128)Iova + Length;
}

/// <summary>An IOMMU_IOAS_UNMAP, its answer, and the areas it actually removed.</summary>
public readonly record struct UnmapCall(ulong Iova, ulong Length, Errno Result, IReadOnlyList<IoasArea> Removed);

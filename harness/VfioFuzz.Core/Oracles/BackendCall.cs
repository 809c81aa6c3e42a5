using VfioFuzz.Iommufd;

namespace VfioFuzz.Oracles;

/// <summary>A map the listener asked the IOAS for (IOMMU_IOAS_MAP or MAP_FILE) and the answer.</summary>
public readonly record struct MapCall(ulong Iova, ulong Length, bool File, IoasMapFlags Flags, Errno Result)
{
    public UInt128 End => (UInt128)Iova + Length;
}

/// <summary>An IOMMU_IOAS_UNMAP, its answer, and the areas it actually removed.</summary>
public readonly record struct UnmapCall(ulong Iova, ulong Length, Errno Result, IReadOnlyList<IoasArea> Removed);

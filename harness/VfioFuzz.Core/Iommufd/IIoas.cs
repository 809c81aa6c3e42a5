namespace VfioFuzz.Iommufd;

/// <summary>
/// One IOAS on /dev/iommu, at the level of the ioctls: IOMMU_IOAS_IOVA_RANGES,
/// IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_FILE and IOMMU_IOAS_UNMAP, answering errno as the kernel
/// does. Implemented by the simulator (the default), the real device, and a cassette replay;
/// what it holds is read through <see cref="IDmaMappings"/>.
/// </summary>
public interface IIoas : IDmaMappings
{
    /// <summary>out_iova_alignment of IOMMU_IOAS_IOVA_RANGES: what QEMU takes as pgsizes.</summary>
    ulong IovaAlignment { get; }

    Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags);

    Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags);

    /// <summary>On success <paramref name="length"/> becomes the number of bytes unmapped.</summary>
    Errno Unmap(ulong iova, ref ulong length);
}

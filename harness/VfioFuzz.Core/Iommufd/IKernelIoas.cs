namespace VfioFuzz.Iommufd;

/// <summary>
/// A real kernel's IOAS, as a differential run needs it beyond the ioctls the listener makes:
/// its own page table asked directly, and MAP_FILE's pages mapped by address where the kernel
/// has no MAP_FILE. <see cref="IommufdIoas"/> on /dev/iommu; tests stand in for it.
/// </summary>
public interface IKernelIoas : IIoas, IDisposable
{
    /// <summary>Whether the attached domain maps the IOVA page at <paramref name="iova"/> to the
    /// memory at <paramref name="userVa"/>; null when there is no domain to ask.</summary>
    bool? DomainMaps(ulong iova, ulong userVa);

    /// <summary>The file range mapped by address: for a kernel without IOMMU_IOAS_MAP_FILE.</summary>
    Errno MapFileByAddress(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags);
}

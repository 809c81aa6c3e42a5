using VfioFuzz.Iommufd;
using VfioFuzz.Machine;

namespace VfioFuzz.Type1;

/// <summary>
/// A simulated type1 container served by iommufd's VFIO compatibility layer
/// (drivers/iommu/iommufd/vfio_compat.c, Linux 6.12), with a domain attached: the type1 uAPI
/// answered by the IOAS rules of <see cref="SimIoas"/>, which the lab's type1 conformance
/// suite recorded on 6.12.117 (corpus/cassettes/type1/iommufd-compat.yaml: 12 of 26 cases
/// answer otherwise than vfio_iommu_type1). Map: flags other than READ|WRITE are EINVAL, but
/// a map with neither is accepted (vfio_compat passes the permission on unchecked; recorded:
/// OK); then iopt_map_user_pages: a wrapping IOVA is EOVERFLOW, a VM_PFNMAP range (a BAR
/// mmap) EFAULT, as on IOMMU_IOAS_MAP. Unmap: flags other than UNMAP_ALL are EINVAL (no dirty
/// bitmap); unmap-all wants IOVA and size 0; otherwise iopt_unmap_iova: size 0 is EINVAL, a
/// wrapping range EOVERFLOW, no alignment is checked, an area sticking out of the range stops
/// the walk with ENOENT (the areas before it already gone), and nothing there is success with
/// size 0 (IOMMU_IOAS_UNMAP alone turns that into ENOENT).
/// </summary>
public sealed class SimIommufdCompat(IoasGeometry geometry, HostMemory host) : IType1Iommu
{
    readonly SimIoas _ioas = new(geometry, host, KernelFlavor.NoDmabuf);

    public ulong IovaPgsizes => geometry.Alignment;

    public bool UnmapAllSupported => true;

    public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags)
    {
        if ((flags & ~(Type1MapFlags.Read | Type1MapFlags.Write)) != 0) return Errno.EINVAL;
        // No permission asked is mapped all the same: checked here as a read-only map is.
        var ioasFlags = IoasMapFlags.FixedIova | IoasMapFlags.Readable | ((flags & Type1MapFlags.Write) != 0 ? IoasMapFlags.Writeable : 0);
        return _ioas.Map(iova, size, vaddr, ioasFlags);
    }

    public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
    {
        ulong asked = size;
        size = 0;
        if ((flags & ~Type1UnmapFlags.All) != 0) return Errno.EINVAL;
        if ((flags & Type1UnmapFlags.All) != 0)
        {
            if (iova != 0 || asked != 0) return Errno.EINVAL;
            ulong all = ulong.MaxValue;
            var cleared = _ioas.Unmap(0, ref all);
            size = cleared == Errno.Ok ? all : 0;
            return Errno.Ok;
        }
        if (asked == 0) return Errno.EINVAL;
        if ((UInt128)iova + asked - 1 > ulong.MaxValue) return Errno.EOVERFLOW;
        if (!_ioas.Intersects(iova, (UInt128)iova + asked)) return Errno.Ok;
        ulong length = asked;
        var result = _ioas.Unmap(iova, ref length);
        if (result == Errno.Ok) size = length;
        return result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => _ioas.AreasIn(start, end);

    public bool Covers(ulong iova, ulong length) => _ioas.Covers(iova, length);

    public bool Intersects(ulong start, UInt128 end) => _ioas.Intersects(start, end);
}

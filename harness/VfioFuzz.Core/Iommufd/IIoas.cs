namespace VfioFuzz.Iommufd;

/// <summary>
/// One IOAS on /dev/iommu, at the level of the ioctls: IOMMU_IOAS_IOVA_RANGES,
/// IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_FILE and IOMMU_IOAS_UNMAP, answering errno as the kernel
/// does. Implemented by the simulator (the default), the real device, and a cassette replay.
/// </summary>
public interface IIoas
{
    /// <summary>out_iova_alignment of IOMMU_IOAS_IOVA_RANGES: what QEMU takes as pgsizes.</summary>
    ulong IovaAlignment { get; }

    Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags);

    Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags);

    /// <summary>On success <paramref name="length"/> becomes the number of bytes unmapped.</summary>
    Errno Unmap(ulong iova, ref ulong length);

    /// <summary>The areas intersecting [start, end), in IOVA order. The kernel has no such
    /// query; the simulator knows, and other backends keep a shadow. Oracles read it.</summary>
    IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end);

    /// <summary>Whether any area intersects [start, end) (backends with their own area set
    /// answer without allocating).</summary>
    bool Intersects(ulong start, UInt128 end) => AreasIn(start, end).Count > 0;

    /// <summary>Whether areas cover all of [iova, iova+length) without a gap (the oracles ask
    /// after every commit; backends with their own area set answer without allocating).</summary>
    bool Covers(ulong iova, ulong length)
    {
        UInt128 cursor = iova, end = (UInt128)iova + length;
        foreach (var a in AreasIn(iova, end))
        {
            if (a.Iova > cursor) return false;
            cursor = UInt128.Max(cursor, a.End);
        }
        return cursor >= end;
    }
}

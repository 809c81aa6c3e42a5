using VfioFuzz.Iommufd;
using VfioFuzz.Machine;

namespace VfioFuzz.Type1;

/// <summary>
/// A simulated type1 v2 container, answering as vfio_dma_do_map / vfio_dma_do_unmap in
/// drivers/vfio/vfio_iommu_type1.c (Linux 6.12) do. Map: no READ or WRITE, a zero size, an
/// IOVA, size or vaddr off the smallest IOMMU page, or a wrapping IOVA or vaddr is EINVAL; any
/// overlap with an existing entry is EEXIST; the entry limit (dma_entry_limit, 65535) is
/// ENOSPC; an IOVA outside the usable ranges is EINVAL; with an IOMMU domain the pages are
/// pinned at once (unmapped memory is EFAULT; a VM_PFNMAP range, a BAR mmap, is followed by
/// pfn and maps, unlike iommufd before dmabuf), without one (an mdev container) nothing is
/// pinned and the entry is only recorded. Unmap: an unaligned IOVA or size, a zero size or a
/// wrapping range is EINVAL; v2 refuses an unmap that bisects an entry at either edge
/// (EINVAL, nothing removed); otherwise every entry inside goes and the size written back
/// is what went, 0 (and success) when nothing was there, and 0 for a range reaching 2^64
/// exactly (the walk's end wraps to 0); VFIO_DMA_UNMAP_FLAG_ALL with IOVA 0 and size 0 removes
/// everything.
/// </summary>
public sealed class SimType1 : IType1Iommu
{
    /// <summary>vfio_iommu_type1's dma_entry_limit module parameter default (U16_MAX).</summary>
    public const int DmaEntryLimit = ushort.MaxValue;

    readonly IoasAreaSet _entries = new();
    readonly HostMemory _host;
    readonly IoasGeometry _geometry;
    readonly bool _domain;

    /// <summary>A container of a profile's machine: its IOMMU page, its usable IOVA ranges
    /// (the domain's aperture minus reserved regions), a domain attached.</summary>
    public SimType1(Profile profile, HostMemory host) : this(IoasGeometry.Of(profile), host, domain: true) { }

    public SimType1(IoasGeometry geometry, HostMemory host, bool domain)
    {
        _geometry = geometry;
        _host = host;
        _domain = domain;
    }

    public ulong IovaPgsizes => _geometry.Alignment;

    public bool UnmapAllSupported => true;

    public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags)
    {
        // VADDR (the CPR vaddr update) is not modelled: QEMU's listener never passes it.
        if ((flags & ~(Type1MapFlags.Read | Type1MapFlags.Write)) != 0) return Errno.EINVAL;
        if ((flags & (Type1MapFlags.Read | Type1MapFlags.Write)) == 0) return Errno.EINVAL;
        ulong mask = _geometry.Alignment - 1;
        if (size == 0 || ((size | iova | vaddr) & mask) != 0) return Errno.EINVAL;
        if (iova + (size - 1) < iova || vaddr + (size - 1) < vaddr) return Errno.EINVAL;
        if (_entries.Intersects(iova, (UInt128)iova + size)) return Errno.EEXIST;
        if (_entries.Count >= DmaEntryLimit) return Errno.ENOSPC;
        // vfio_iommu_iova_dma_valid: an mdev-only container has an empty list and takes any IOVA.
        if (_domain && !_geometry.Usable(iova, iova + (size - 1))) return Errno.EINVAL;
        if (_domain && !_host.TryResolve(vaddr, size, out _)) return Errno.EFAULT;
        _entries.Insert(iova, size, (flags & Type1MapFlags.Write) != 0);
        return Errno.Ok;
    }

    public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
    {
        ulong asked = size;
        size = 0;
        if ((flags & ~(Type1UnmapFlags.All | Type1UnmapFlags.GetDirtyBitmap)) != 0) return Errno.EINVAL;
        ulong mask = _geometry.Alignment - 1;
        if ((iova & mask) != 0) return Errno.EINVAL;
        if ((flags & Type1UnmapFlags.All) != 0)
        {
            if (iova != 0 || asked != 0) return Errno.EINVAL;
            size = _entries.Clear();
            return Errno.Ok;
        }
        if (asked == 0 || (asked & mask) != 0 || iova + (asked - 1) < iova) return Errno.EINVAL;
        UInt128 end = (UInt128)iova + asked;
        // v2: the entries holding the first and the last byte must start and end exactly there.
        foreach (var e in _entries.AreasIn(iova, (UInt128)iova + 1))
            if (e.Iova != iova) return Errno.EINVAL;
        foreach (var e in _entries.AreasIn(iova + (asked - 1), end))
            if (e.End != end) return Errno.EINVAL;
        // The kernel walks entries while entry.iova < iova + size in 64-bit arithmetic: a range
        // that reaches 2^64 exactly ends at 0 and takes nothing, success with size 0 (recorded
        // on 6.12.117: the last page mapped, then [2^63, 2^63) or the page itself unmapped).
        // Only unmap-all removes such an entry; an unmap split in two halves leaves it.
        if (end == (UInt128)ulong.MaxValue + 1) return Errno.Ok;
        var (_, unmapped) = _entries.Unmap(iova, end);
        size = unmapped;
        return Errno.Ok;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => _entries.AreasIn(start, end);

    public bool Covers(ulong iova, ulong length) => _entries.Covers(iova, length);

    public bool Intersects(ulong start, UInt128 end) => _entries.Intersects(start, end);
}

using VfioFuzz.Machine;

namespace VfioFuzz.Iommufd;

/// <summary>
/// A simulated IOAS with a domain attached (QEMU's case: the device is attached before the
/// listener registers), answering as drivers/iommu/iommufd/io_pagetable.c does and as the
/// conformance suite checks against a real kernel: fixed maps that overlap an area fail with
/// EEXIST; a misaligned IOVA, or one outside the usable ranges, with EINVAL; pinning memory
/// that cannot be pinned (VM_PFNMAP, unmapped) with EFAULT; an unmap follows
/// <see cref="IoasAreaSet.Unmap"/>.
/// </summary>
public sealed class SimIoas : IIoas
{
    readonly IoasAreaSet _areas = new();
    readonly HostMemory _host;
    readonly KernelFlavor _kernel;
    readonly IoasGeometry _geometry;
    readonly ulong _hostPage;

    public SimIoas(Profile profile, HostMemory host) : this(IoasGeometry.Of(profile), host, profile.Kernel, profile.HostPageSize) { }

    /// <param name="hostPage">The kernel's PAGE_SIZE (default: this machine's, where a
    /// recording is compared or a differential run happens).</param>
    public SimIoas(IoasGeometry geometry, HostMemory host, KernelFlavor kernel, ulong hostPage = 0)
    {
        _host = host;
        _kernel = kernel;
        _geometry = geometry;
        _hostPage = hostPage != 0 ? hostPage : (ulong)Environment.SystemPageSize;
    }

    public ulong IovaAlignment => _geometry.Alignment;

    public int Count => _areas.Count;

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags)
    {
        var check = CheckMap(iova, length, flags);
        if (check != Errno.Ok) return check;
        // iopt_insert_area: the user address's offset in its page must be IOVA-aligned (found by
        // the type1 conformance suite on iommufd's compat layer: a vaddr 0x400 into a page is
        // EINVAL with a 2 KiB mock-domain alignment), checked before anything is pinned.
        if ((userVa & (Math.Min(_geometry.Alignment, _hostPage) - 1)) != 0) return Errno.EINVAL;
        if (!_host.TryResolve(userVa, length, out bool pfnMap) || pfnMap) return Errno.EFAULT;
        _areas.Insert(iova, length, (flags & IoasMapFlags.Writeable) != 0);
        return Errno.Ok;
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        // Before 6.14 IOMMU_IOAS_MAP_FILE is an unknown command.
        if (_kernel == KernelFlavor.NoDmabuf) return Errno.ENOTTY;
        var check = CheckMap(iova, length, flags);
        if (check != Errno.Ok) return check;
        if (!_host.IsFileRange(fd, start, length)) return Errno.EINVAL;
        _areas.Insert(iova, length, (flags & IoasMapFlags.Writeable) != 0);
        return Errno.Ok;
    }

    Errno CheckMap(ulong iova, ulong length, IoasMapFlags flags)
    {
        if ((flags & ~(IoasMapFlags.FixedIova | IoasMapFlags.Readable | IoasMapFlags.Writeable)) != 0) return Errno.EOPNOTSUPP;
        // The ioctl refuses an iova or length of UINT64_MAX before looking any further.
        if (iova == ulong.MaxValue || length == ulong.MaxValue) return Errno.EOVERFLOW;
        if ((flags & (IoasMapFlags.Readable | IoasMapFlags.Writeable)) == 0 || length == 0) return Errno.EINVAL;
        if ((UInt128)iova + length - 1 > ulong.MaxValue) return Errno.EOVERFLOW;
        // QEMU always passes FIXED_IOVA; without it the kernel would pick the IOVA.
        if ((flags & IoasMapFlags.FixedIova) == 0) return Errno.EOPNOTSUPP;
        ulong mask = _geometry.Alignment - 1;
        if ((iova & mask) != 0 || (length & mask) != 0) return Errno.EINVAL;
        ulong last = iova + (length - 1);
        if (!_geometry.Usable(iova, last)) return Errno.EINVAL;
        return _areas.Intersects(iova, (UInt128)last + 1) ? Errno.EEXIST : Errno.Ok;
    }

    public Errno Unmap(ulong iova, ref ulong length)
    {
        if (length == 0) return Errno.EINVAL;
        if (iova == 0 && length == ulong.MaxValue)
        {
            length = _areas.Clear();
            return Errno.Ok;
        }
        // Found by the conformance suite: any other use of UINT64_MAX (iova 1, length
        // UINT64_MAX does not wrap) is EOVERFLOW before the range is looked at.
        if (iova == ulong.MaxValue || length == ulong.MaxValue || (UInt128)iova + length - 1 > ulong.MaxValue) return Errno.EOVERFLOW;
        var (result, unmapped) = _areas.Unmap(iova, (UInt128)iova + length);
        if (result == Errno.Ok) length = unmapped;
        return result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => _areas.AreasIn(start, end);

    public void AreasIn(ulong start, UInt128 end, List<IoasArea> into) => _areas.AreasIn(start, end, into);

    public bool Covers(ulong iova, ulong length) => _areas.Covers(iova, length);

    public bool Intersects(ulong start, UInt128 end) => _areas.Intersects(start, end);
}

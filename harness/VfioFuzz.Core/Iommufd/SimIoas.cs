using VfioFuzz.Machine;

namespace VfioFuzz.Iommufd;

/// <summary>
/// A simulated IOAS with a domain attached (QEMU's case: the device is attached before the
/// listener registers), answering as drivers/iommu/iommufd/io_pagetable.c does: fixed maps
/// that overlap an area fail with EEXIST, misaligned or reserved IOVAs with EINVAL, pinning a
/// VM_PFNMAP range with EFAULT; an unmap removes the areas wholly inside its range in IOVA
/// order and stops with ENOENT at the first one that straddles its edge (earlier ones stay
/// removed), and a range that hits nothing is ENOENT.
/// </summary>
public sealed class SimIoas : IIoas
{
    readonly SortedList<ulong, IoasArea> _areas = [];
    readonly HostMemory _host;
    readonly KernelFlavor _kernel;
    readonly IReadOnlyList<(ulong Start, ulong Last)> _reserved;

    public SimIoas(Profile profile, HostMemory host)
    {
        _host = host;
        _kernel = profile.Kernel;
        _reserved = profile.ReservedIovas;
        IovaAlignment = profile.IommuPageSize;
    }

    public ulong IovaAlignment { get; }

    public int Count => _areas.Count;

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags)
    {
        var check = CheckMap(iova, length, flags);
        if (check != Errno.Ok) return check;
        if (!_host.TryResolve(userVa, length, out bool pfnMap) || pfnMap) return Errno.EFAULT;
        Insert(iova, length, flags);
        return Errno.Ok;
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        if (_kernel == KernelFlavor.NoDmabuf) return Errno.ENOTTY;
        var check = CheckMap(iova, length, flags);
        if (check != Errno.Ok) return check;
        if (!_host.IsDmabufRange(fd, start, length)) return Errno.EINVAL;
        Insert(iova, length, flags);
        return Errno.Ok;
    }

    Errno CheckMap(ulong iova, ulong length, IoasMapFlags flags)
    {
        if ((flags & ~(IoasMapFlags.FixedIova | IoasMapFlags.Readable | IoasMapFlags.Writeable)) != 0) return Errno.EOPNOTSUPP;
        if ((flags & (IoasMapFlags.Readable | IoasMapFlags.Writeable)) == 0 || length == 0) return Errno.EINVAL;
        if ((UInt128)iova + length - 1 > ulong.MaxValue) return Errno.EOVERFLOW;
        // QEMU always passes FIXED_IOVA; without it the kernel would pick the IOVA.
        if ((flags & IoasMapFlags.FixedIova) == 0) return Errno.EOPNOTSUPP;
        ulong mask = IovaAlignment - 1;
        if ((iova & mask) != 0 || (length & mask) != 0) return Errno.EINVAL;
        ulong last = iova + (length - 1);
        foreach (var (s, l) in _reserved)
            if (iova <= l && s <= last) return Errno.EINVAL;
        return AreasIn(iova, (UInt128)last + 1).Count > 0 ? Errno.EEXIST : Errno.Ok;
    }

    void Insert(ulong iova, ulong length, IoasMapFlags flags) =>
        _areas.Add(iova, new IoasArea(iova, length, (flags & IoasMapFlags.Writeable) != 0));

    public Errno Unmap(ulong iova, ref ulong length)
    {
        if (length == 0) return Errno.EINVAL;
        if (iova == 0 && length == ulong.MaxValue)
        {
            ulong all = 0;
            foreach (var a in _areas.Values) all += a.Length;
            _areas.Clear();
            length = all;
            return Errno.Ok;
        }
        if ((UInt128)iova + length - 1 > ulong.MaxValue) return Errno.EOVERFLOW;
        UInt128 end = (UInt128)iova + length;
        ulong unmapped = 0;
        foreach (var area in AreasIn(iova, end))
        {
            if (area.Iova < iova || area.End > end) return Errno.ENOENT;
            _areas.Remove(area.Iova);
            unmapped += area.Length;
        }
        if (unmapped == 0) return Errno.ENOENT;
        length = unmapped;
        return Errno.Ok;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end)
    {
        var result = new List<IoasArea>();
        var keys = _areas.Keys;
        // The first area that could intersect is the last one starting at or before start.
        int lo = 0, hi = keys.Count - 1, first = keys.Count;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] >= start) { first = mid; hi = mid - 1; }
            else lo = mid + 1;
        }
        if (first > 0 && _areas.Values[first - 1].End > start) first--;
        for (int i = first; i < keys.Count && keys[i] < end; i++) result.Add(_areas.Values[i]);
        return result;
    }
}

namespace VfioFuzz.Iommufd;

/// <summary>
/// What the kernel holds mapped for one container, whichever interface QEMU drives it
/// through (an iommufd IOAS or a legacy VFIO type1 container): the oracles' view. The kernel
/// has no such query; the simulators know, and the real and replay backends keep a shadow.
/// </summary>
public interface IDmaMappings
{
    /// <summary>The areas (type1: vfio_dma entries) intersecting [start, end), in IOVA order.</summary>
    IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end);

    /// <summary>The same areas, into <paramref name="into"/> (cleared first): the observers
    /// ask before every unmap, into a buffer of their own (backends with their own area set
    /// answer without allocating).</summary>
    void AreasIn(ulong start, UInt128 end, List<IoasArea> into)
    {
        into.Clear();
        into.AddRange(AreasIn(start, end));
    }

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

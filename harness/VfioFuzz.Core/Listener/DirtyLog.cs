namespace VfioFuzz.Listener;

/// <summary>
/// The dirty-bitmap reads a container makes while global dirty tracking is on
/// (vfio_container_query_dirty_bitmap: IOMMU_HWPT_GET_DIRTY_BITMAP on iommufd). The backend
/// reads the range before an unmap that carries an IOTLB entry (region_del's identity entry
/// since 11.0, a vIOMMU UNMAP's own), so pages the device dirtied are not lost with the
/// mapping, and marks them in QEMU's dirty bitmap at the entry's translated_addr taken as a
/// ram_addr (physical_memory_set_dirty_lebitmap's start): each read keeps that address too.
/// </summary>
public sealed class DirtyLog
{
    readonly List<(ulong Iova, UInt128 End, ulong MarkedAt)> _synced = [];

    public void Sync(ulong iova, UInt128 size, ulong markedAt) => _synced.Add((iova, (UInt128)iova + size, markedAt));

    /// <summary>Whether the reads since the last <see cref="Clear"/> cover [iova, end).</summary>
    public bool Covers(ulong iova, UInt128 end)
    {
        UInt128 cursor = iova;
        bool moved = true;
        while (cursor < end && moved)
        {
            moved = false;
            foreach (var (s, e, _) in _synced)
                if (s <= cursor && e > cursor) { cursor = e; moved = true; }
        }
        return cursor >= end;
    }

    /// <summary>The ram_addr the dirty bit of the page at <paramref name="iova"/> was marked
    /// at by a read covering it, or null when none did.</summary>
    public ulong? MarkedAt(ulong iova)
    {
        foreach (var (s, e, at) in _synced)
            if (s <= iova && e > iova) return at + (iova - s);
        return null;
    }

    public void Clear() => _synced.Clear();
}

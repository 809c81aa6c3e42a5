namespace VfioFuzz.Listener;

/// <summary>
/// The dirty-bitmap reads a container makes while global dirty tracking is on
/// (vfio_container_query_dirty_bitmap: IOMMU_HWPT_GET_DIRTY_BITMAP on iommufd). The backend
/// reads the range before an unmap that carries an IOTLB entry (region_del's identity entry
/// since 11.0, a vIOMMU UNMAP's own), so pages the device dirtied are not lost with the mapping.
/// </summary>
public sealed class DirtyLog
{
    readonly List<(ulong Iova, UInt128 End)> _synced = [];

    public void Sync(ulong iova, UInt128 size) => _synced.Add((iova, (UInt128)iova + size));

    /// <summary>Whether the reads since the last <see cref="Clear"/> cover [iova, end).</summary>
    public bool Covers(ulong iova, UInt128 end)
    {
        UInt128 cursor = iova;
        bool moved = true;
        while (cursor < end && moved)
        {
            moved = false;
            foreach (var (s, e) in _synced)
                if (s <= cursor && e > cursor) { cursor = e; moved = true; }
        }
        return cursor >= end;
    }

    public void Clear() => _synced.Clear();
}

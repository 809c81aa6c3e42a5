using VfioFuzz.Memory;

namespace VfioFuzz.Listener;

/// <summary>
/// memory_region_ref / memory_region_unref as the listener calls them, counted per owner (a
/// region's ref is its owner's: the device object, or the region itself when it has none).
/// The listener takes one on every region_add that passes the section checks and drops it
/// on the matching region_del; the oracles hold it to that.
/// </summary>
public sealed class RegionRefs
{
    readonly Dictionary<string, (int Count, RegionRole Role)> _byOwner = [];

    /// <summary>Called after each change with the owner and its new count.</summary>
    public event Action<string, int, RegionRole>? Changed;

    public static string OwnerOf(MemoryRegion mr) => mr.Owner ?? mr.Name;

    public void Ref(MemoryRegion mr) => Add(mr, +1);

    public void Unref(MemoryRegion mr) => Add(mr, -1);

    public IEnumerable<(string Owner, int Count, RegionRole Role)> Held =>
        _byOwner.Where(kv => kv.Value.Count != 0).Select(kv => (kv.Key, kv.Value.Count, kv.Value.Role));

    void Add(MemoryRegion mr, int delta)
    {
        string owner = OwnerOf(mr);
        int count = _byOwner.GetValueOrDefault(owner).Count + delta;
        _byOwner[owner] = (count, mr.Role);
        Changed?.Invoke(owner, count, mr.Role);
    }
}

using VfioFuzz.Memory;

namespace VfioFuzz.Listener;

/// <summary>
/// memory_region_ref / memory_region_unref as the listener calls them, counted per owner (a
/// region's ref is its owner's: the device object, or the region itself when it has none).
/// The listener takes one on every region_add that passes the section checks and drops it
/// on the matching region_del; the oracles hold it to that. A run sees a dozen regions, so
/// plain lists searched by reference beat dictionaries (no hashing, one small allocation).
/// </summary>
public sealed class RegionRefs
{
    readonly List<(MemoryRegion Mr, int Slot)> _slotOf = new(16);
    readonly List<(string Owner, int Count, RegionRole Role)> _slots = new(8);

    /// <summary>Called after each change with the owner and its new count.</summary>
    public event Action<string, int, RegionRole>? Changed;

    public void Ref(MemoryRegion mr) => Add(mr, +1);

    public void Unref(MemoryRegion mr) => Add(mr, -1);

    /// <summary>Every owner a ref was taken or dropped for, with its count now (0: balanced).</summary>
    public IReadOnlyList<(string Owner, int Count, RegionRole Role)> Owners => _slots;

    void Add(MemoryRegion mr, int delta)
    {
        int slot = SlotOf(mr);
        var (owner, count, role) = _slots[slot];
        _slots[slot] = (owner, count + delta, role);
        Changed?.Invoke(owner, count + delta, mr.Role);
    }

    int SlotOf(MemoryRegion mr)
    {
        foreach (var (m, s) in _slotOf)
            if (ReferenceEquals(m, mr)) return s;
        string owner = mr.Owner ?? mr.Name;
        int slot = 0;
        while (slot < _slots.Count && _slots[slot].Owner != owner) slot++;
        if (slot == _slots.Count)
        {
            slot = _slots.Count;
            _slots.Add((owner, 0, mr.Role));
        }
        _slotOf.Add((mr, slot));
        return slot;
    }
}

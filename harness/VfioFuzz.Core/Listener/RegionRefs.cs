using VfioFuzz.Memory;

namespace VfioFuzz.Listener;

/// <summary>
/// memory_region_ref / memory_region_unref as the listener calls them, counted per owner (a
/// region's ref is its owner's: the device object, or the region itself when it has none).
/// The listener takes one on every region_add that passes the section checks and drops it
/// on the matching region_del; the oracles hold it to that. Regions map to an owner slot by
/// reference, so a ref costs no string hashing on the fuzzing hot path.
/// </summary>
public sealed class RegionRefs
{
    readonly Dictionary<MemoryRegion, int> _slotOf = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<string, int> _slotOfOwner = [];
    readonly List<(string Owner, int Count, RegionRole Role)> _slots = [];

    /// <summary>Called after each change with the owner and its new count.</summary>
    public event Action<string, int, RegionRole>? Changed;

    public void Ref(MemoryRegion mr) => Add(mr, +1);

    public void Unref(MemoryRegion mr) => Add(mr, -1);

    public IEnumerable<(string Owner, int Count, RegionRole Role)> Held => _slots.Where(s => s.Count != 0);

    void Add(MemoryRegion mr, int delta)
    {
        if (!_slotOf.TryGetValue(mr, out int slot))
        {
            string owner = mr.Owner ?? mr.Name;
            if (!_slotOfOwner.TryGetValue(owner, out slot))
            {
                slot = _slots.Count;
                _slots.Add((owner, 0, mr.Role));
                _slotOfOwner[owner] = slot;
            }
            _slotOf[mr] = slot;
        }
        var (name, count, role) = _slots[slot];
        _slots[slot] = (name, count + delta, role);
        Changed?.Invoke(name, count + delta, mr.Role);
    }
}

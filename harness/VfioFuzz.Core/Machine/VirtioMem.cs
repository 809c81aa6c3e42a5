using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>A RamDiscardListener as a listener registers it for one section of a region with a
/// RamDiscardManager: populate (returns 0 or -errno; the manager rolls back on failure) and
/// discard, both with a range as an offset into the region and a size.</summary>
public sealed class RamDiscardListener(ulong offset, ulong size, Func<ulong, ulong, int> populate, Action<ulong, ulong> discard)
{
    public ulong Offset { get; } = offset;
    public ulong Size { get; } = size;
    public int Populate(ulong offset, ulong size) => populate(offset, size);
    public void Discard(ulong offset, ulong size) => discard(offset, size);
}

/// <summary>
/// A virtio-mem device's memory: one RAM region placed at boot whose blocks the guest plugs
/// and unplugs; its RamDiscardManager tells the registered listeners which blocks are
/// populated. Registration replays the populated blocks; unregistration discards the whole
/// section in one notification (VFIO's listener says double discard is fine).
/// </summary>
public sealed class VirtioMem
{
    public const ulong Gpa = 0x40_0000_0000UL;
    public const ulong Size = 512UL << 20;
    /// <summary>virtio-mem's block size, and VFIO's granularity for it: 2 MiB, at least any
    /// profile's IOMMU page.</summary>
    public const ulong BlockSize = 2UL << 20;
    public const int Blocks = (int)(Size / BlockSize);

    // A bitset (block b is bit b%64 of word b/64): the decoder picks the n-th block in a plug
    // state and the ram-discard oracle diffs plug states after every op, a word at a time.
    readonly ulong[] _populated = new ulong[Blocks / 64];
    readonly List<RamDiscardListener> _listeners = [];

    public MemoryRegion Region { get; } = new("vmem0", RegionKind.Ram, Size, RegionRole.GuestRam, Owner: null);

    public IReadOnlyList<RamDiscardListener> Listeners => _listeners;

    public bool IsPopulated(int block) => (_populated[block >> 6] & (1UL << (block & 63))) != 0;

    /// <summary>The plug states as a bitset of <see cref="Blocks"/> bits.</summary>
    public ReadOnlySpan<ulong> PopulatedBits => _populated;

    /// <summary>Whether the block holding a GPA of the region is plugged.</summary>
    public bool IsPopulatedAt(ulong gpa) => IsPopulated((int)((gpa - Gpa) / BlockSize));

    /// <summary>ram_discard_manager_is_populated: every block of [offset, offset+size) in the region is plugged.</summary>
    public bool IsPopulatedRange(ulong offsetInRegion, ulong size)
    {
        for (ulong block = offsetInRegion / BlockSize; block * BlockSize < offsetInRegion + size; block++)
            if (block >= Blocks || !IsPopulated((int)block)) return false;
        return true;
    }

    /// <summary>Bumped on every plug state change, so watchers skip rescanning the blocks.</summary>
    public long Version { get; private set; }

    public void SetPopulated(int block, bool populated)
    {
        if (populated) _populated[block >> 6] |= 1UL << (block & 63);
        else _populated[block >> 6] &= ~(1UL << (block & 63));
        Version++;
    }

    /// <summary>ram_discard_manager_register_listener: replays the populated memory of the
    /// listener's section, each run of consecutive plugged blocks as one populate of its part
    /// inside the section (virtio_mem_for_each_plugged_section), stopping at the first failure
    /// (a failure there is the listener's to report).</summary>
    public void Register(RamDiscardListener listener)
    {
        _listeners.Add(listener);
        for (int b = 0; b < Blocks;)
        {
            if (!IsPopulated(b)) { b++; continue; }
            int end = b;
            while (end < Blocks && IsPopulated(end)) end++;
            ulong offset = (ulong)b * BlockSize, size = (ulong)(end - b) * BlockSize;
            b = end;
            if (Intersect(listener, offset, size, out ulong start, out ulong length) && listener.Populate(start, length) != 0) return;
        }
    }

    /// <summary>ram_discard_manager_unregister_listener: one discard of the whole section.</summary>
    public void Unregister(RamDiscardListener listener)
    {
        if (!_listeners.Remove(listener)) return;
        listener.Discard(listener.Offset, listener.Size);
    }

    /// <summary>virtio_mem_intersect_memory_section: the part of [offset, offset+size) inside the
    /// listener's section, partial blocks at its edges included; false when there is none.</summary>
    public static bool Intersect(RamDiscardListener listener, ulong offset, ulong size, out ulong start, out ulong length)
    {
        start = Math.Max(offset, listener.Offset);
        UInt128 end = UInt128.Min((UInt128)offset + size, (UInt128)listener.Offset + listener.Size);
        length = end > start ? (ulong)(end - start) : 0;
        return length > 0;
    }


    public void Reset()
    {
        Array.Clear(_populated);
        _listeners.Clear();
        Version++;
    }
}

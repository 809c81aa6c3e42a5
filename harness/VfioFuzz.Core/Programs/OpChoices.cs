using System.Collections.Immutable;
using System.Numerics;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Programs;

/// <summary>
/// The candidate lists and address grids the byte form chooses from, in one place so the
/// decoder (byte -> op) and the encoder (op -> byte) can never disagree about an index.
/// Candidates are counted and picked in place: the decoder runs on every execution.
/// </summary>
static class OpChoices
{
    public static readonly Func<World, MemoryRegion, bool> Free = static (w, r) => !w.IsPlugged(r.Name);
    public static readonly Func<World, MemoryRegion, bool> Plugged = static (w, r) => w.IsPlugged(r.Name);
    public static readonly Func<World, MemoryRegion, bool> PluggedRam = static (w, r) => !r.ReadOnly && w.IsPlugged(r.Name);
    public static readonly Func<World, PciDevice, bool> Initializing = static (_, d) => d.State == DeviceState.Initializing;
    public static readonly Func<World, PciDevice, bool> Ats = static (_, d) => d.Plugged && d.Spec.Ats;
    public static readonly Func<World, PciDevice, bool> MmapsDisabled = static (_, d) => !d.MmapsEnabled;
    public static readonly Func<World, PciDevice, bool> HdmCommitted = static (_, d) => d.Hdm is { CommittedBase: not null };
    public static readonly Func<World, PciDevice, bool> HdmDecommitted = static (_, d) => d.Plugged && d.Hdm is { CommittedBase: null };

    /// <summary>The (choice mod count)-th item that qualifies, or null when none does.</summary>
    public static T? Pick<T>(ImmutableArray<T> all, World world, Func<World, T, bool> qualifies, int choice) where T : class
    {
        int i = PickIndex(all.Length, (all, world, qualifies), static (s, i) => s.qualifies(s.world, s.all[i]), choice);
        return i < 0 ? null : all[i];
    }

    /// <summary>The choice byte that picks <paramref name="match"/>'s item, or -1.</summary>
    public static int ChoiceOf<T>(ImmutableArray<T> all, World world, Func<World, T, bool> qualifies, Func<T, bool> match)
    {
        int target = -1;
        for (int i = 0; i < all.Length && target < 0; i++)
            if (qualifies(world, all[i]) && match(all[i])) target = i;
        return target < 0 ? -1 : ChoiceOfIndex(all.Length, (all, world, qualifies), static (s, i) => s.qualifies(s.world, s.all[i]), target);
    }

    /// <summary>Of candidates 0..n-1, the index of the (choice mod count)-th that qualifies, or -1.
    /// The state is passed through so the predicate needs no closure on the decoder's hot path.</summary>
    static int PickIndex<TState>(int n, TState state, Func<TState, int, bool> qualifies, int choice)
    {
        int count = 0;
        for (int i = 0; i < n; i++) if (qualifies(state, i)) count++;
        if (count == 0) return -1;
        int k = choice % count;
        for (int i = 0; i < n; i++)
            if (qualifies(state, i) && k-- == 0) return i;
        return -1;
    }

    /// <summary>The inverse of <see cref="PickIndex"/>: the choice that picks candidate
    /// <paramref name="target"/>, or -1 when it does not qualify.</summary>
    static int ChoiceOfIndex<TState>(int n, TState state, Func<TState, int, bool> qualifies, int target)
    {
        if (target < 0 || target >= n || !qualifies(state, target)) return -1;
        int index = 0;
        for (int i = 0; i < target; i++) if (qualifies(state, i)) index++;
        return index;
    }

    /// <summary>Bits 0-2 pick a 1 GiB hotplug slot; bit 7 shifts the GPA by 4 KiB: legal, but
    /// off the host-page phase on 64K hosts.</summary>
    public static ulong HotplugGpa(byte b) =>
        World.HotplugBase + (ulong)(b & 7) * World.HotplugSlot + ((b & 0x80) != 0 ? 0x1000UL : 0);

    /// <summary>The (choice mod count)-th virtio-mem block in the given plug state, or null:
    /// <see cref="PickIndex"/>'s rule, counted on the bitset a word at a time (the decoder
    /// asks on every vmem op, over 256 blocks).</summary>
    public static int? VmemBlock(World world, bool plugged, int choice)
    {
        if (!world.Profile.HasVirtioMem) return null;
        var bits = world.VirtioMem.PopulatedBits;
        int count = 0;
        foreach (var w in bits) count += BitOperations.PopCount(plugged ? w : ~w);
        if (count == 0) return null;
        int k = choice % count;
        for (int i = 0; i < bits.Length; i++)
        {
            ulong w = plugged ? bits[i] : ~bits[i];
            int here = BitOperations.PopCount(w);
            if (k >= here) { k -= here; continue; }
            for (; k > 0; k--) w &= w - 1;   // drop the k lowest candidates of this word
            return i * 64 + BitOperations.TrailingZeroCount(w);
        }
        return null;
    }

    /// <summary>The choice byte that picks <paramref name="block"/> among the blocks in its
    /// plug state, or -1.</summary>
    public static int VmemChoiceOf(World world, bool plugged, int block) =>
        ChoiceOfIndex(VirtioMem.Blocks, (world.VirtioMem, plugged), static (s, b) => s.VirtioMem.IsPopulated(b) == s.plugged, block);

    /// <summary>The decoder base a guest commits: one of the window's 256 MiB slots the DPA fits from.</summary>
    public static ulong HdmGpa(HdmSpec spec, byte b) => spec.SlotBase(b % spec.Slots);

    /// <summary>Where guest IOTLB entries go: 64 slots of 2 MiB from 4 GiB (bits 0-5; bit 7
    /// is the write permission), inside every profile's usable IOVA ranges.</summary>
    public static ulong IotlbIova(byte a) => IotlbBase + (ulong)(a & 63) * IotlbSlot;

    public const ulong IotlbBase = 0x1_0000_0000UL;
    public const ulong IotlbSlot = 2UL << 20;

    /// <summary>The GPA an IOTLB entry translates to: an IOMMU page of a system-memory
    /// section (any section: a map to MMIO is a guest's to make, and QEMU's to refuse).</summary>
    public static ulong IotlbGpa(Section target, byte c, ulong page) =>
        (target.Gpa & ~(page - 1)) + (c % Math.Max(1, (ulong)(target.Size / page))) * page;

    /// <summary>Relative IOTLB IOVAs (bit 6 of the choice byte, as syzkaller names iommufd's
    /// IOVAs by "nth area + offset"): with bit 0 clear, the IOVA is the GPA it maps (an
    /// identity entry, as guests that map 1:1 make); with bit 0 set, the page right after the
    /// ((choice >> 1) mod count)-th live IOTLB entry (adjacent to live state), or null when
    /// there is none.</summary>
    public static ulong? IotlbIovaRelative(World world, byte a, ulong gpa)
    {
        if ((a & 1) == 0) return gpa;
        var entries = world.Viommu.Entries;
        if (entries.Count == 0) return null;
        UInt128 end = entries[((a >> 1) & 0x1f) % entries.Count].End;
        return end <= ulong.MaxValue ? (ulong)end : null;
    }

    /// <summary>Whether the choice byte names an IOTLB IOVA relative to live state.</summary>
    public static bool IotlbRelative(byte a) => (a & 0x40) != 0;

    /// <summary>Relative BAR placement ("the nth live section + offset"): the BAR onto the
    /// ((choice &amp; 0x7f) mod count)-th section of system memory, its start rounded up to the
    /// BAR's size, or with bit 7 set its end at the section's end rounded down, so a BAR lands
    /// on RAM, a ROM, another BAR or device memory that is there now. Null when that placement
    /// is not legal (World.BarPlacementProblem).</summary>
    public static ulong? BarOnSection(World world, BarSpec bar, byte c)
    {
        var sections = world.SystemView.Sections;
        if (sections.Length == 0) return null;
        var s = sections[(c & 0x7f) % sections.Length];
        ulong size = bar.Size;
        UInt128 gpa = (c & 0x80) == 0
            ? ((UInt128)s.Gpa + size - 1) / size * size
            : s.End < size ? 0 : (s.End - size) / size * size;
        if (gpa > ulong.MaxValue) return null;
        return world.BarPlacementProblem(bar, (ulong)gpa) is null ? (ulong)gpa : null;
    }

    /// <summary>The high nibble picks whose window (so BARs can collide), the low bits the slot.
    /// A BAR smaller than a host page gets slots one host page apart, and bit 3 shifts it by
    /// its own size: host-page aligned (QEMU grows it to the page) or not (trimmed away). A
    /// 32-bit BAR gets only the slots where it ends below 4 GiB - 1: null when that window has none.</summary>
    public static ulong? BarGpa(World world, BarSpec bar, byte c)
    {
        var profile = world.Profile;
        ulong page = profile.HostPageSize, barSize = bar.Size, stride = Math.Max(barSize, page);
        int window = (c >> 4) % world.Devices.Length, slots = 8;
        if (!bar.Is64)
        {
            ulong first = profile.BarSlot(window, 0, stride);
            if (first >= uint.MaxValue || (uint.MaxValue - first) / stride < 2) return null;
            slots = (int)Math.Min((uint.MaxValue - first) / stride - 1, 8);
        }
        int slot = 1 + (c & 7) % slots;
        if (barSize >= page) return profile.BarSlot(window, slot, barSize);
        return profile.BarSlot(window, slot, page) + ((c & 8) != 0 ? barSize : 0);
    }
}

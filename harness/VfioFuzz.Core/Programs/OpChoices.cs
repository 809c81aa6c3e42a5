using System.Collections.Immutable;
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
    public static readonly Func<World, PciDevice, bool> Ats = static (_, d) => d.Spec.Ats;
    public static readonly Func<World, PciDevice, bool> MmapsDisabled = static (_, d) => !d.MmapsEnabled;

    /// <summary>The (choice mod count)-th item that qualifies, or null when none does.</summary>
    public static T? Pick<T>(ImmutableArray<T> all, World world, Func<World, T, bool> qualifies, int choice) where T : class
    {
        int count = 0;
        for (int i = 0; i < all.Length; i++) if (qualifies(world, all[i])) count++;
        if (count == 0) return null;
        int k = choice % count;
        for (int i = 0; i < all.Length; i++)
            if (qualifies(world, all[i]) && k-- == 0) return all[i];
        return null;
    }

    /// <summary>The choice byte that picks <paramref name="match"/>'s item, or -1.</summary>
    public static int ChoiceOf<T>(ImmutableArray<T> all, World world, Func<World, T, bool> qualifies, Func<T, bool> match)
    {
        int index = 0;
        for (int i = 0; i < all.Length; i++)
        {
            if (!qualifies(world, all[i])) continue;
            if (match(all[i])) return index;
            index++;
        }
        return -1;
    }

    /// <summary>Bits 0-2 pick a 1 GiB hotplug slot; bit 7 shifts the GPA by 4 KiB: legal, but
    /// off the host-page phase on 64K hosts.</summary>
    public static ulong HotplugGpa(byte b) =>
        World.HotplugBase + (ulong)(b & 7) * World.HotplugSlot + ((b & 0x80) != 0 ? 0x1000UL : 0);

    /// <summary>The (choice mod count)-th virtio-mem block in the given plug state, or null.</summary>
    public static int? VmemBlock(World world, bool plugged, int choice)
    {
        int count = 0;
        for (int b = 0; b < VirtioMem.Blocks; b++) if (world.VirtioMem.IsPopulated(b) == plugged) count++;
        if (count == 0) return null;
        int k = choice % count;
        for (int b = 0; b < VirtioMem.Blocks; b++)
            if (world.VirtioMem.IsPopulated(b) == plugged && k-- == 0) return b;
        return null;
    }

    /// <summary>The choice byte that picks <paramref name="block"/> among the blocks in its
    /// plug state, or -1.</summary>
    public static int VmemChoiceOf(World world, bool plugged, int block)
    {
        int index = 0;
        for (int b = 0; b < VirtioMem.Blocks; b++)
        {
            if (world.VirtioMem.IsPopulated(b) != plugged) continue;
            if (b == block) return index;
            index++;
        }
        return -1;
    }

    /// <summary>Where guest IOTLB entries go: 64 slots of 2 MiB from 4 GiB (bits 0-5; bit 7
    /// is the write permission), inside every profile's usable IOVA ranges.</summary>
    public static ulong IotlbIova(byte a) => IotlbBase + (ulong)(a & 63) * IotlbSlot;

    public const ulong IotlbBase = 0x1_0000_0000UL;
    public const ulong IotlbSlot = 2UL << 20;

    /// <summary>The GPA an IOTLB entry translates to: an IOMMU page of a system-memory
    /// section (any section: a map to MMIO is a guest's to make, and QEMU's to refuse).</summary>
    public static ulong IotlbGpa(Section target, byte c, ulong page) =>
        (target.Gpa & ~(page - 1)) + (c % Math.Max(1, target.Size / page)) * page;

    /// <summary>The high nibble picks whose window (so BARs can collide), the low bits the slot.
    /// A BAR smaller than a host page gets slots one host page apart, and bit 3 shifts it by
    /// its own size: host-page aligned (QEMU grows it to the page) or not (trimmed away).</summary>
    public static ulong BarGpa(World world, byte c, ulong barSize)
    {
        ulong page = world.Profile.HostPageSize;
        if (barSize >= page) return World.BarSlot((c >> 4) % world.Devices.Length, 1 + (c & 7), barSize);
        return World.BarSlot((c >> 4) % world.Devices.Length, 1 + (c & 7), page) + ((c & 8) != 0 ? barSize : 0);
    }
}

using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Programs;

/// <summary>
/// The candidate lists and address grids the byte form chooses from, in one place so the
/// decoder (byte -> op) and the encoder (op -> byte) can never disagree about an index.
/// </summary>
static class OpChoices
{
    public static MemoryRegion[] FreeRegions(World world) => world.Pool.Where(r => !world.IsPlugged(r.Name)).ToArray();

    public static MemoryRegion[] PluggedRegions(World world) => world.Pool.Where(r => world.IsPlugged(r.Name)).ToArray();

    public static PciDevice[] Initializing(World world) => world.Devices.Where(d => d.State == DeviceState.Initializing).ToArray();

    public static PciDevice[] AtsDevices(World world) => world.Devices.Where(d => d.Spec.Ats).ToArray();

    /// <summary>Bits 0-2 pick a 1 GiB hotplug slot; bit 7 shifts the GPA by 4 KiB: legal, but
    /// off the host-page phase on 64K hosts.</summary>
    public static ulong HotplugGpa(byte b) =>
        World.HotplugBase + (ulong)(b & 7) * World.HotplugSlot + ((b & 0x80) != 0 ? 0x1000UL : 0);

    /// <summary>The high nibble picks whose window (so BARs can collide), the low bits the slot.</summary>
    public static ulong BarGpa(World world, byte c, ulong barSize) =>
        World.BarSlot((c >> 4) % world.Devices.Count, 1 + (c & 7), barSize);
}

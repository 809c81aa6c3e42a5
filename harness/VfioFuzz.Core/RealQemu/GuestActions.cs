using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.RealQemu;

/// <summary>What the harness does to the nested QEMU to perform an op: a PCI config access of
/// a device (through the 0xcf8/0xcfc ports, over qtest) or a QMP command.</summary>
public abstract record GuestAction;

/// <summary>A config-space write of <paramref name="Size"/> bytes.</summary>
public sealed record ConfigWrite(string Device, int Offset, int Size, uint Value) : GuestAction;

/// <summary>A config-space read (BAR sizing reads the size back; the marker between ops).</summary>
public sealed record ConfigRead(string Device, int Offset, int Size) : GuestAction;

/// <summary>Read a 16-bit register, set or clear <paramref name="Mask"/>, write it back.</summary>
public sealed record ConfigUpdate(string Device, int Offset, ushort Mask, bool Set) : GuestAction;

/// <summary>A QMP command, with its arguments as a JSON object (or none).</summary>
public sealed record QmpCommand(string Execute, string? Arguments = null) : GuestAction;

/// <summary>A 4-byte write to an I/O port, as the guest's ACPI methods make them.</summary>
public sealed record PortWrite(ushort Port, uint Value) : GuestAction;

/// <summary>
/// The guest-visible form of each op on the nested machine, as a guest OS or firmware would
/// produce it: COMMAND.MEM and BAR writes are config writes, a BAR is sized a dword at a time
/// and restored, a machine reset is QMP's system_reset, plugging a pool region is a pc-dimm
/// hotplug (object-add of its RAM backend, device_add at the op's address, in the slot of the
/// region's place in the pool), unplugging it is QMP's device_del (the unplug request, which
/// raises the ACPI event) and then what the guest's ACPI method does to eject the DIMM: select
/// its slot and write the eject bit in the memory hotplug registers (q35's ICH9 at I/O port
/// 0x0a00: slot selector at +0x0, flags at +0x14, eject = 8; hw/acpi/memory_hotplug.c, read in
/// 7.2), after which the backend is deleted so a later plug can add it again, and a PAM change
/// is a byte written to the segment's PAM register in the host bridge's config space (the
/// other segment sharing the register keeps its mode). An op with no
/// such form on this machine has none: null, and the run lists it as skipped (no vIOMMU, ATS or
/// virtio-mem; no way for the guest to make QEMU run vfio_pci_reset alone).
/// </summary>
public static class GuestActions
{
    public const int Command = 0x04;
    public const ushort CommandMem = 0x2;

    /// <summary>The subsystem IDs register: read between ops as a marker, since QEMU traces
    /// every vfio-pci config read (vfio_pci_read_config) and no op touches it.</summary>
    public const int MarkerOffset = 0x2c;

    public static int BarRegister(int bar) => 0x10 + 4 * bar;

    /// <summary>The device id the actions use for q35's host bridge (the MCH at 00:00.0).</summary>
    public const string HostBridge = "mch";

    /// <summary>PAM0, the first of the MCH's seven PAM registers.</summary>
    const int Pam0 = 0x90;

    /// <summary>ICH9's ACPI memory hotplug registers (ACPI_MEMORY_HOTPLUG_BASE).</summary>
    const ushort MemoryHotplug = 0x0a00;
    const ushort SlotSelector = MemoryHotplug + 0x0, SlotFlags = MemoryHotplug + 0x14;
    const uint Eject = 8;

    /// <summary>What firmware does before a program (World.Boot): every BAR at its boot slot,
    /// then MEM on, device by device.</summary>
    public static IReadOnlyList<GuestAction> Firmware(World booted)
    {
        var actions = new List<GuestAction>();
        foreach (var dev in booted.Devices)
        {
            foreach (var bar in dev.Bars) actions.AddRange(WriteBar(dev.Id, bar.Spec, bar.Address));
            actions.Add(new ConfigUpdate(dev.Id, Command, CommandMem, Set: true));
        }
        return actions;
    }

    /// <summary>The actions for <paramref name="op"/> on <paramref name="world"/> as it is
    /// before the op, or null when the op has no guest-visible form here.</summary>
    public static IReadOnlyList<GuestAction>? For(Op op, World world) => op switch
    {
        SetCommandMem c => [new ConfigUpdate(c.Device, Command, CommandMem, c.On)],
        MoveBar m => WriteBar(m.Device, world.Device(m.Device).Bar(m.Bar).Spec, m.Gpa),
        BarSizing b => Size(b.Device, world.Device(b.Device).Bar(b.Bar)),
        SystemReset => [new QmpCommand("system_reset")],
        MapRegion m when world.PoolRegion(m.Region).Kind == RegionKind.Ram =>
        [
            new QmpCommand("object-add", $"{{\"qom-type\": \"memory-backend-ram\", \"id\": \"mem-{m.Region}\", \"size\": {world.PoolRegion(m.Region).Size}}}"),
            new QmpCommand("device_add", $"{{\"driver\": \"pc-dimm\", \"id\": \"{m.Region}\", \"memdev\": \"mem-{m.Region}\", \"addr\": {m.Gpa}, \"slot\": {Slot(world, m.Region)}}}"),
        ],
        SetPam p => [PamWrite(world, p)],
        UnmapRegion u when world.PoolRegion(u.Region).Kind == RegionKind.Ram =>
        [
            new QmpCommand("device_del", $"{{\"id\": \"{u.Region}\"}}"),
            new PortWrite(SlotSelector, (uint)Slot(world, u.Region)),
            new PortWrite(SlotFlags, Eject),
            new QmpCommand("object-del", $"{{\"id\": \"mem-{u.Region}\"}}"),
        ],
        _ => null,
    };

    /// <summary>The register holding the segment, written whole: segment 0 in PAM0's high
    /// nibble, segment 2k-1 in PAM k's low nibble and 2k in its high one.</summary>
    static ConfigWrite PamWrite(World world, SetPam p)
    {
        int register = (p.Segment + 1) / 2;
        int Mode(int segment) => segment == p.Segment ? p.Mode : world.PamMode(segment);
        int value = register == 0 ? Mode(0) << 4 : Mode(2 * register - 1) | Mode(2 * register) << 4;
        return new ConfigWrite(HostBridge, Pam0 + register, 1, (uint)value);
    }

    /// <summary>A pool region's DIMM slot: its place in the pool.</summary>
    static int Slot(World world, string region) => world.Pool.IndexOf(world.PoolRegion(region));

    static GuestAction[] WriteBar(string device, BarSpec bar, ulong gpa)
    {
        int reg = BarRegister(bar.Index);
        if (!bar.Is64) return [new ConfigWrite(device, reg, 4, (uint)gpa)];
        return [new ConfigWrite(device, reg, 4, (uint)gpa), new ConfigWrite(device, reg + 4, 4, (uint)(gpa >> 32))];
    }

    /// <summary>World.SizeBar's sequence: all-ones to each dword (reading each back, as the
    /// sizing code does), then the old dwords back, high first.</summary>
    static GuestAction[] Size(string device, PciBar bar)
    {
        int reg = BarRegister(bar.Spec.Index);
        ulong old = bar.Address;
        if (!bar.Spec.Is64)
            return [new ConfigWrite(device, reg, 4, uint.MaxValue), new ConfigRead(device, reg, 4), new ConfigWrite(device, reg, 4, (uint)old)];
        return
        [
            new ConfigWrite(device, reg, 4, uint.MaxValue), new ConfigRead(device, reg, 4),
            new ConfigWrite(device, reg + 4, 4, uint.MaxValue), new ConfigRead(device, reg + 4, 4),
            new ConfigWrite(device, reg + 4, 4, (uint)(old >> 32)), new ConfigWrite(device, reg, 4, (uint)old),
        ];
    }
}

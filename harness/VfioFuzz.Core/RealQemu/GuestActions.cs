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

/// <summary>QMP device_add of the program's vfio-pci device again, in its slot behind the root
/// port (the lab knows which host device it takes).</summary>
public sealed record VfioDeviceAdd(string Device) : GuestAction;

/// <summary>Wait until QEMU has traced <paramref name="Event"/> once more than at the last wait
/// for it: an unplugged device is finalized, and its container released, only once the memory
/// core drops its last reference, which may be after the ejection returns.</summary>
public sealed record AwaitTrace(string Event) : GuestAction;

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
/// other segment sharing the register keeps its mode), a device unplug is QMP's device_del and
/// the ejection the guest's ACPI method makes (q35 7.2 hotplugs devices behind PCIe root ports
/// through ACPI: select the bus, write the slot's bit to the eject register; hw/acpi/pcihp.c,
/// ICH9 at I/O port 0x0cc0: +0x10 bus select, +0x08 eject), then a wait for the device's
/// finalization (vfio_put_group), and a replug is device_add in the same slot. The vfio-pci
/// device sits behind a root port because q35's root bus does not hotplug ("Bus 'pcie.0' does
/// not support hotplugging"); firmware's part is to number the port's secondary bus and open
/// its windows over the whole address space (32-bit memory window 0-4 GiB, 64-bit prefetchable
/// window from 4 GiB), so the port hides no BAR and the listener sees what it saw with the
/// device on the root bus; a machine reset closes them, so firmware opens them again after it.
/// An op with no
/// such form on this machine has none: null, and the run lists it as skipped (no vIOMMU, ATS or
/// virtio-mem; no way for the guest to make QEMU run vfio_pci_reset alone).
/// </summary>
public static class GuestActions
{
    public const int Command = 0x04;
    public const ushort CommandMem = 0x2;

    /// <summary>The host bridge's subsystem IDs register: read between ops as a marker (the lab
    /// traces pci_cfg_read, and no op touches it); not the vfio-pci device's, which is gone
    /// while it is unplugged.</summary>
    public const int MarkerOffset = 0x2c;

    public static int BarRegister(int bar) => 0x10 + 4 * bar;

    /// <summary>The device id the actions use for q35's host bridge (the MCH at 00:00.0).</summary>
    public const string HostBridge = "mch";

    /// <summary>The device id of the PCIe root port (00:03.0) the vfio-pci device sits behind,
    /// at 01:00.0 on its secondary bus.</summary>
    public const string RootPort = "rp0";

    /// <summary>ICH9's ACPI PCI hotplug registers (ACPI_PCIHP_ADDR_ICH9): the root port's bus is
    /// the only hotpluggable one, so its ACPI bus selector (bsel) is 0.</summary>
    const ushort PciHotplug = 0x0cc0;
    const ushort PciHotplugEject = PciHotplug + 0x08, PciHotplugSelect = PciHotplug + 0x10;

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
        var actions = new List<GuestAction>(OpenRootPort);
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
        SystemReset => [new QmpCommand("system_reset"), .. OpenRootPort],
        DeviceUnplug d =>
        [
            new QmpCommand("device_del", $"{{\"id\": \"{d.Device}\"}}"),
            new PortWrite(PciHotplugSelect, 0),
            new PortWrite(PciHotplugEject, 1u << 0),   // slot 0 of the port's bus
            new AwaitTrace("vfio_put_group"),
        ],
        DeviceReplug r => [new VfioDeviceAdd(r.Device)],
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

    /// <summary>Firmware's setup of the root port: bus numbers (primary 0, secondary and
    /// subordinate 1), the 32-bit memory window [0, 4 GiB), the 64-bit prefetchable window
    /// [4 GiB, 2^64), then MEM on. Its own MSI-X BAR stays unprogrammed.</summary>
    static readonly GuestAction[] OpenRootPort =
    [
        new ConfigWrite(RootPort, 0x18, 4, 0x0001_0100),
        new ConfigWrite(RootPort, 0x20, 4, 0xfff0_0000),
        new ConfigWrite(RootPort, 0x24, 4, 0xfff1_0001),
        new ConfigWrite(RootPort, 0x28, 4, 0x1),
        new ConfigWrite(RootPort, 0x2c, 4, 0xffff_ffff),
        new ConfigUpdate(RootPort, Command, CommandMem, Set: true),
    ];

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

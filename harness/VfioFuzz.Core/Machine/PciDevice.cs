using System.Collections.Immutable;
using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>
/// One BAR of a vfio-pci device, as QEMU builds it: an I/O container holding region.mem
/// (trapped MMIO), whose subregion mmaps[0] is the ram_device mmap of the BAR, with the MSI-X
/// table overlaid at priority 1 when the table lives in this BAR.
/// </summary>
public sealed class PciBar
{
    public BarSpec Spec { get; }
    public MemoryRegion Mmap { get; }
    public MemoryRegion Trapped { get; }
    public MemoryRegion? MsixTable { get; }

    /// <summary>The address programmed in QEMU's emulated BAR register; 0 = unprogrammed.</summary>
    public ulong Address { get; set; }

    /// <summary>Where the BAR is mapped in the address space now (PCIIORegion.addr), or null:
    /// pci_update_mappings moves it there from the register, one BAR at a time.</summary>
    public ulong? MappedAt { get; set; }

    /// <summary>When the World last mapped it (its own counter): among overlapping regions of
    /// one priority the most recently added renders first.</summary>
    internal long MappedSeq { get; set; }

    /// <summary>A sub-page BAR's mmap grown to one host page (vfio_sub_page_bar_update_mapping),
    /// used while the BAR sits at a host-page-aligned address; null for other BARs.</summary>
    public MemoryRegion? GrownMmap { get; }

    public PciBar(string deviceId, BarSpec spec, ulong hostPageSize)
    {
        Spec = spec;
        string name = $"{deviceId} BAR{spec.Index}";
        Mmap = new MemoryRegion($"{name} mmaps[0]", RegionKind.RamDevice, spec.Size, spec.MmapRole, deviceId);
        if (spec.Size < hostPageSize)
            GrownMmap = new MemoryRegion($"{name} mmaps[0]", RegionKind.RamDevice, hostPageSize, spec.MmapRole, deviceId);
        Trapped = new MemoryRegion(name, RegionKind.Mmio, spec.Size, RegionRole.Mmio, deviceId);
        if (spec.MsixTableOffset is not null)
            MsixTable = new MemoryRegion($"{deviceId} msix-table", RegionKind.Mmio, spec.MsixTableSize, RegionRole.MsixTable, deviceId);
    }

    /// <summary>The BAR's leaves in render order: the overlay first, then the mmap (unless
    /// the device's mmaps are disabled), then the trapped region behind it.</summary>
    public void AddLeaves(List<Placement> leaves, bool mmapEnabled)
    {
        ulong at = MappedAt!.Value;
        if (MsixTable is not null) leaves.Add(new Placement(MsixTable, at + Spec.MsixTableOffset!.Value));
        // A sub-page BAR at a host-page-aligned address is grown to the host page, so the
        // listener can map it; elsewhere its section is trimmed away and skipped.
        if (mmapEnabled && Spec.Mmappable) leaves.Add(new Placement(GrownMmap is not null && at % GrownMmap.Size == 0 ? GrownMmap : Mmap, at));
        leaves.Add(new Placement(Trapped, at));
    }
}

public sealed class PciDevice
{
    public DeviceSpec Spec { get; }
    public string Id => Spec.Id;
    public ImmutableArray<PciBar> Bars { get; }

    /// <summary>A CXL Type-2 device's HDM decoder and DPA; null for other devices.</summary>
    public HdmDecoder? Hdm { get; }

    public DeviceState State { get; set; } = DeviceState.Running;

    /// <summary>PCI COMMAND.MEM: BARs decode only while it is set.</summary>
    public bool CommandMem { get; set; }

    /// <summary>vfio_mmap_set_enabled: false while QEMU handles an INTx interrupt itself (the
    /// BAR mmaps are disabled so accesses trap), until the re-enable timer fires.</summary>
    public bool MmapsEnabled { get; set; } = true;

    /// <summary>Whether the device is in the machine: false between a device-unplug and its
    /// device-replug. No op can name an unplugged device.</summary>
    public bool Plugged { get; set; } = true;

    public PciDevice(DeviceSpec spec, ulong hostPageSize)
    {
        Spec = spec;
        Bars = [.. spec.Bars.Select(b => new PciBar(spec.Id, b, hostPageSize))];
        if (spec.Hdm is not null) Hdm = new HdmDecoder(spec.Id, spec.Hdm);
    }

    public PciBar Bar(int index)
    {
        foreach (var b in Bars)
            if (b.Spec.Index == index) return b;
        throw new ProgramException($"device {Id} has no BAR{index} (it has {string.Join(", ", Bars.Select(b => "BAR" + b.Spec.Index))})");
    }

    /// <summary>Whether the BAR is in the address space now.</summary>
    public bool BarDecodes(PciBar bar) => bar.MappedAt is not null;

    /// <summary>pci_bar_address: where the BAR's register places it, or null (UNMAPPED) when
    /// MEM is off, the register is zero, the BAR would end at or past HWADDR_MAX, or a 32-bit
    /// BAR would end at or past 4 GiB - 1 (the all-ones value sizing writes).</summary>
    public ulong? RegisterPlacement(PciBar bar)
    {
        if (!CommandMem || bar.Address == 0) return null;
        UInt128 end = (UInt128)bar.Address + bar.Spec.Size;
        if (end >= (UInt128)ulong.MaxValue + 1 || (!bar.Spec.Is64 && end - 1 >= uint.MaxValue)) return null;
        return bar.Address;
    }
}

namespace VfioFuzz.Programs;

/// <summary>
/// One step of the fuzzed language: something a guest, firmware or QEMU itself does that
/// changes the memory topology or device state. Ops are plain values naming concrete
/// devices, regions and addresses, so a reproducer reads like what happened.
/// </summary>
public abstract record Op
{
    /// <summary>The op's name in YAML and traces.</summary>
    public abstract string Name { get; }
}

/// <summary>Plug a pool region (pc-dimm, ROM) into system memory at a GPA.</summary>
public sealed record MapRegion(string Region, ulong Gpa) : Op { public override string Name => "map-region"; }

/// <summary>Unplug a pool region.</summary>
public sealed record UnmapRegion(string Region) : Op { public override string Name => "unmap-region"; }

/// <summary>A guest config write of PCI COMMAND.MEM.</summary>
public sealed record SetCommandMem(string Device, bool On) : Op { public override string Name => "command-mem"; }

/// <summary>A guest config write of a BAR address (naturally aligned to the BAR size).</summary>
public sealed record MoveBar(string Device, int Bar, ulong Gpa) : Op { public override string Name => "move-bar"; }

/// <summary>Machine reset: every device is reset and PCI core clears COMMAND and the BARs.</summary>
public sealed record SystemReset : Op { public override string Name => "system-reset"; }

/// <summary>vfio_pci_reset: pre_reset clears COMMAND.MEM, then the device resets (the reset
/// ioctl) and initializes.</summary>
public sealed record DeviceReset(string Device) : Op { public override string Name => "device-reset"; }

/// <summary>The guest resets the device itself, through config space (an FLR, or a CXL reset
/// through the CXL Device DVSEC): the kernel performs it and restores config space, so QEMU's
/// BARs stay as they were; the device resets and initializes.</summary>
public sealed record DeviceFlr(string Device) : Op { public override string Name => "device-flr"; }

/// <summary>The guest's CXL driver commits endpoint HDM decoder 0 at a base inside the CXL
/// window: the VMM maps the device memory there.</summary>
public sealed record HdmCommit(string Device, ulong Gpa) : Op { public override string Name => "hdm-commit"; }

/// <summary>The guest's CXL driver decommits HDM decoder 0: the VMM unmaps the device memory.</summary>
public sealed record HdmDecommit(string Device) : Op { public override string Name => "hdm-decommit"; }

/// <summary>The device is hot-unplugged (device_del, and the guest's ejection of its slot): its
/// BARs leave the address space one by one, and when it was the last device of its container
/// the container's listener is unregistered and the container closed.</summary>
public sealed record DeviceUnplug(string Device) : Op { public override string Name => "device-unplug"; }

/// <summary>The unplugged device is hot-plugged again (device_add in the same slot): it comes
/// back as after a reset (BARs unprogrammed, COMMAND.MEM off), and when no container was left
/// a new one is opened and its listener registered (the replay of the whole view).</summary>
public sealed record DeviceReplug(string Device) : Op { public override string Name => "device-replug"; }

/// <summary>The device finished its post-reset initialization and answers invalidations again.</summary>
public sealed record DeviceInitDone(string Device) : Op { public override string Name => "device-init-done"; }

/// <summary>The device translates a GPA through ATS (a UVM migration, a doorbell, a DMA).</summary>
public sealed record AtsAccess(string Device, ulong Gpa) : Op { public override string Name => "ats-access"; }

/// <summary>The guest turns its vIOMMU on or off: the device address space swaps between
/// system memory and the vIOMMU's IOMMU region (one transaction).</summary>
public sealed record SetViommu(bool On) : Op { public override string Name => "viommu"; }

/// <summary>The guest maps an IOVA to a GPA in its vIOMMU page tables and invalidates: an
/// IOTLB MAP notification.</summary>
public sealed record IotlbMap(ulong Iova, ulong Gpa, ulong Size, bool Writable) : Op { public override string Name => "iotlb-map"; }

/// <summary>The guest unmaps an IOVA range it mapped: an IOTLB UNMAP notification.</summary>
public sealed record IotlbUnmap(ulong Iova) : Op { public override string Name => "iotlb-unmap"; }

/// <summary>An INTx interrupt QEMU handles itself (no KVM irqfd bypass): vfio_intx_interrupt
/// disables every BAR mmap of the device, so its ram_device sections go (region_del).</summary>
public sealed record IntxInterrupt(string Device) : Op { public override string Name => "intx"; }

/// <summary>The INTx mmap re-enable timer (x-intx-mmap-timeout-ms) fires: the mmaps come back
/// (region_add).</summary>
public sealed record IntxMmapTimer(string Device) : Op { public override string Name => "intx-mmap-timer"; }

/// <summary>A chipset read-only flip (PAM/SMRAM-style) of a plugged RAM region: del + add of
/// the same range with the other attribute.</summary>
public sealed record SetReadOnly(string Region, bool On) : Op { public override string Name => "readonly"; }

/// <summary>The guest programs one of q35's PAM segments (the MCH's Programmable Attribute Map,
/// config 0x90-0x96 of 00:00.0) over the legacy window below 1 MiB: <paramref name="Segment"/>
/// 0 is the BIOS area 0xf0000-0xfffff, 1-12 the 16 KiB segments from 0xc0000; <paramref name="Mode"/>
/// is the register's 2-bit attribute (0 the PCI side: the ROMs show; 1 RAM read-only; 2 and 3
/// RAM). Only on a profile with a chipset PAM (Profile.ChipsetPam).</summary>
public sealed record SetPam(int Segment, int Mode) : Op { public override string Name => "pam"; }

/// <summary>The guest sizes a BAR with MEM enabled: all-ones written to each dword and the old
/// value restored, the BAR decoding at a transient address in between.</summary>
public sealed record BarSizing(string Device, int Bar) : Op { public override string Name => "bar-sizing"; }

/// <summary>The guest plugs a virtio-mem block (2 MiB): RamDiscardManager populate.</summary>
public sealed record VmemPlug(int Block) : Op { public override string Name => "vmem-plug"; }

/// <summary>The guest unplugs a virtio-mem block: RamDiscardManager discard.</summary>
public sealed record VmemUnplug(int Block) : Op { public override string Name => "vmem-unplug"; }

/// <summary>Migration starts (log_global_start) or stops global dirty tracking.</summary>
public sealed record SetDirtyTracking(bool On) : Op { public override string Name => "dirty-tracking"; }

/// <summary>Kernel fault injection, as the kernel's own iommufd_fail_nth selftest does it: the
/// Nth map call the listener makes from here on (IOMMU_IOAS_MAP, MAP_FILE or VFIO_IOMMU_MAP_DMA;
/// 1 = the next) fails with <paramref name="Errno"/> before it reaches the kernel. Only maps
/// fail: a failed unmap leaves state QEMU cannot see and the model has no reference for.
/// At the very start of a program it is armed before the listener registers, so the
/// registration replay's maps count.</summary>
public sealed record FailNth(int N, VfioFuzz.Iommufd.Errno Errno) : Op
{
    public override string Name => "fail-nth";

    /// <summary>The errnos a map can fail with that the decoder chooses among.</summary>
    public static readonly VfioFuzz.Iommufd.Errno[] Injectable =
        [VfioFuzz.Iommufd.Errno.EFAULT, VfioFuzz.Iommufd.Errno.ENOMEM, VfioFuzz.Iommufd.Errno.ENOSPC, VfioFuzz.Iommufd.Errno.EEXIST, VfioFuzz.Iommufd.Errno.EINVAL];
}

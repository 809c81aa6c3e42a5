namespace VfioFuzz.Memory;

/// <summary>What QEMU's memory core knows a MemoryRegion as; the listener's predicates read it.</summary>
public enum RegionKind
{
    /// <summary>Guest RAM: memory_region_is_ram.</summary>
    Ram,
    /// <summary>ROM: RAM with readonly set; mapped read-only.</summary>
    Rom,
    /// <summary>memory_region_init_ram_device_ptr: an mmap of device memory (a BAR, a CXL DPA).</summary>
    RamDevice,
    /// <summary>Trapped I/O (BAR slow path, MSI-X table): never RAM, always skipped.</summary>
    Mmio,
    /// <summary>An IOMMU memory region (a vIOMMU's translated window): memory_region_is_iommu.
    /// The listener registers a notifier for it instead of mapping it.</summary>
    Iommu,
}

/// <summary>
/// What a region is for on the platform. The profile decides from the role whether a section
/// must be translatable in Stage-2; finding signatures name the role.
/// </summary>
public enum RegionRole
{
    GuestRam,
    Rom,
    /// <summary>An mmap of an ordinary BAR (registers, doorbells): a P2P target only.</summary>
    BarMmap,
    /// <summary>nvgrace-gpu usemem: the NVLink coherent aperture, reached by the GPU through ATS.</summary>
    NvlinkAperture,
    /// <summary>CXL Type-2 device-attached memory (DPA behind the HDM decoder), reached through ATS.</summary>
    CxlDpa,
    /// <summary>A ram_device with no VFIO owner (e.g. a shared-memory device).</summary>
    SharedRamDevice,
    Mmio,
    MsixTable,
    /// <summary>The vIOMMU's IOMMU region in the device address space.</summary>
    Viommu,
}

public static class RegionRoleNames
{
    /// <summary>Stable kebab-case names: they appear in signatures, YAML and reports.</summary>
    public static string Name(this RegionRole role) => role switch
    {
        RegionRole.GuestRam => "guest-ram",
        RegionRole.Rom => "rom",
        RegionRole.BarMmap => "bar-mmap",
        RegionRole.NvlinkAperture => "nvlink-aperture",
        RegionRole.CxlDpa => "cxl-dpa",
        RegionRole.SharedRamDevice => "shared-ram-device",
        RegionRole.Mmio => "mmio",
        RegionRole.MsixTable => "msix-table",
        RegionRole.Viommu => "viommu",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };
}

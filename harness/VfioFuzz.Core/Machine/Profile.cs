using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>One BAR of a device: its size, what its mmap is, and an optional MSI-X table
/// overlay (trapped, above the mmap in the BAR container) that splits the mmap. The table is
/// <paramref name="MsixEntries"/> × 16 bytes (msix_init, hw/pci/msix.c); the BAR's mmap covers
/// it (the kernel's VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, so vfio_pci_fixup_msix_region leaves
/// the mmap whole), so a table smaller than a host page splits the mmap at sub-page edges. The
/// default, 256 entries, fills one 4 KiB page. A 32-bit BAR (<paramref name="Is64"/> false)
/// lives below 4 GiB; a BAR the kernel does not let QEMU mmap (<paramref name="Mmappable"/>
/// false) is trapped MMIO only.</summary>
public sealed record BarSpec(int Index, ulong Size, RegionRole MmapRole, ulong? MsixTableOffset = null, bool Is64 = true, bool Mmappable = true,
    int MsixEntries = 256)
{
    /// <summary>PCI_MSIX_ENTRY_SIZE × entries: the size of the msix-table region.</summary>
    public ulong MsixTableSize => (ulong)MsixEntries * 16;
}

/// <summary>A device: its BARs and, for a CXL Type-2 device, the HDM decoder that places its
/// device memory (not a BAR) in guest physical memory.</summary>
public sealed record DeviceSpec(string Id, DeviceKind Kind, bool Ats, IReadOnlyList<BarSpec> Bars, HdmSpec? Hdm = null);

/// <summary>A region the guest can plug and unplug (pc-dimm, option ROM).</summary>
public sealed record PoolRegionSpec(string Name, RegionKind Kind, ulong Size);

/// <summary>A region the machine itself places for good (firmware ROM, a legacy ROM window over
/// RAM, interrupt controllers' MMIO): above RAM, never moved by a program. <paramref name="InPci"/>:
/// it lives in the PCI address space, not in system memory (q35's pc.rom, isa-bios and pc.bios:
/// pc_memory_init's rom_memory is the PCI address space), which matters on a profile with
/// <see cref="Profile.PcPciLayer"/>.</summary>
public sealed record PlatformRegionSpec(string Name, RegionKind Kind, ulong Gpa, ulong Size, bool InPci = false);

/// <summary>Which kernel the host runs, as far as the listener can tell.</summary>
public enum KernelFlavor
{
    /// <summary>VFIO exports BARs as dmabuf and iommufd has IOMMU_IOAS_MAP_FILE (6.19+).</summary>
    Dmabuf,
    /// <summary>No dmabuf export, no MAP_FILE (6.12): a BAR mmap is VM_PFNMAP and MAP fails with EFAULT.</summary>
    NoDmabuf,
}

/// <summary>
/// The platform whose rules the oracles enforce: page sizes, the machine's devices and
/// pluggable regions, which roles need a Stage-2 entry, and which devices cannot answer an
/// ATC invalidation while they reset or initialize. Memory devices (pc-dimm) are placed on
/// <paramref name="MemoryDeviceAlign"/> boundaries: QEMU refuses an address off the
/// alignment of the device's memory region ("address must be aligned to 0x%x bytes",
/// hw/mem/memory-device.c, 7.2), which for anonymous guest RAM on a Linux x86_64 or aarch64
/// host is QEMU_VMALLOC_ALIGN, 2 MiB whatever the host page (include/qemu/osdep.h,
/// util/oslib-posix.c qemu_anon_ram_alloc); seen by the lab's differential campaign on q35.
/// File-backed RAM (hugetlbfs) would align to its page, larger still: not modelled.
/// <paramref name="MemfdRam"/>: guest RAM (machine memory, DIMMs, virtio-mem) comes from
/// memory-backend-memfd, so each RAMBlock has an fd and the iommufd container maps it with
/// IOMMU_IOAS_MAP_FILE (vfio_container_dma_map; iommufd's dma_map_file, fb32965b6d, 2025-07-03); upstream
/// has no fallback when that fails, NVIDIA's container retries with the VA (PR #20). Which
/// alignment QEMU then asks of a DIMM is not known here: the profiles keep 2 MiB.
/// <paramref name="ChipsetPam"/>: the machine is q35, whose MCH maps the legacy window
/// 0xc0000-0xfffff through 13 PAM segments (the `pam` op; see World.Pam).
/// <paramref name="PcPciLayer"/>: an x86 pc machine, whose PCI address space (BARs, and the
/// platform regions <see cref="PlatformRegionSpec.InPci"/>) sits under all of system memory at
/// priority -1 (pc_pci_as_mapping_init, read in 7.2): a BAR shows wherever system memory (RAM,
/// DIMMs, the IOAPIC, HPET and MSI MMIO) has nothing, and over RAM only through the chipset's
/// windows onto the PCI space: the SMRAM window 0xa0000-0xbffff (open as after reset: SMRAM is
/// not modelled) and the PAM segments in mode 0. Without it BARs render above RAM.
/// </summary>
public sealed record Profile(
    string Name,
    string Description,
    ulong HostPageSize,
    ulong IommuPageSize,
    KernelFlavor Kernel,
    ulong RamBase,
    ulong RamSize,
    IReadOnlyList<DeviceSpec> Devices,
    IReadOnlyList<PoolRegionSpec> Pool,
    IReadOnlySet<RegionRole> NeedsStage2,
    IReadOnlySet<DeviceKind> AtcInvTimesOutDuringReset,
    IReadOnlyList<(ulong Start, ulong Last)> ReservedIovas,
    ulong BarWindowBase = World.BarWindowBase,
    ulong BarWindowSize = World.BarWindowSize,
    bool HasVirtioMem = true,
    IReadOnlyList<PlatformRegionSpec>? Platform = null,
    ulong MemoryDeviceAlign = 2UL << 20,
    ViommuKind Viommu = ViommuKind.Shadowing,
    bool MemfdRam = false,
    bool ChipsetPam = false,
    bool PcPciLayer = false)
{
    /// <summary>Where firmware puts BAR <paramref name="slot"/> (counted from 1) of the device
    /// whose window is <paramref name="window"/>: one window per device, slots of the BAR's size.</summary>
    public ulong BarSlot(int window, int slot, ulong barSize) =>
        BarWindowBase + (ulong)window * BarWindowSize + (ulong)slot * barSize;

    public HostPageGeometry Geometry => new(HostPageSize, IommuPageSize);

    public bool RequiresStage2(RegionRole role) => NeedsStage2.Contains(role);

    /// <summary>The ARM SMMUv3 software MSI window iommufd reserves in every IOAS.</summary>
    static readonly (ulong, ulong)[] SmmuMsiWindow = [(0x800_0000UL, 0x80f_ffffUL)];

    static readonly PoolRegionSpec[] CommonPool =
    [
        new("dimm0", RegionKind.Ram, 512UL << 20),
        new("dimm1", RegionKind.Ram, 256UL << 20),
        new("rom0", RegionKind.Rom, 256UL << 10),
    ];

    // BAR3 is a 4 KiB doorbell page: a whole page on 4K hosts, a sub-page BAR on 64K hosts.
    static readonly DeviceSpec PlainNic = new("nic0", DeviceKind.Nic, Ats: false,
        [new BarSpec(0, 64UL << 10, RegionRole.BarMmap, MsixTableOffset: 0x8000), new BarSpec(3, 4UL << 10, RegionRole.BarMmap)]);

    public static readonly Profile Gb200Nvlink = new(
        "gb200-nvlink",
        "Grace-Blackwell: nvgrace-gpu exposes the NVLink coherent aperture as BAR4 (usemem); " +
        "the GPU reaches it through ATS, so it must be in the Stage-2 IOAS. 64K pages.",
        HostPageSize: 64UL << 10, IommuPageSize: 64UL << 10, KernelFlavor.Dmabuf,
        RamBase: 0x4000_0000, RamSize: 2UL << 30,
        Devices:
        [
            new("gpu0", DeviceKind.CoherentGpu, Ats: true,
            [
                new BarSpec(0, 16UL << 20, RegionRole.BarMmap, MsixTableOffset: 0xb9_0000),
                new BarSpec(4, 4UL << 30, RegionRole.NvlinkAperture),
            ]),
            PlainNic,
        ],
        CommonPool,
        NeedsStage2: new HashSet<RegionRole> { RegionRole.GuestRam, RegionRole.Rom, RegionRole.NvlinkAperture },
        // The GPU answers invalidations through reset: nvgrace-gpu waits for readiness itself.
        AtcInvTimesOutDuringReset: new HashSet<DeviceKind>(),
        SmmuMsiWindow);

    /// <summary>gb200-nvlink with QEMU's emulated SMMUv3 (arm-smmuv3 without accel) in front of
    /// the devices: it refuses the MAP notifier vfio needs, so the listener's registration
    /// fails in its first replay and QEMU refuses the device (qemu-listener.md §1.3, §1.6).
    /// A configuration that cannot run a VM, kept to hold targets to that failure path.</summary>
    public static readonly Profile Gb200NvlinkSmmuv3 = Gb200Nvlink with
    {
        Name = "gb200-nvlink-smmuv3",
        Description = "gb200-nvlink behind QEMU's emulated SMMUv3 (no accel): its IOMMU region is the device's address space " +
                      "from boot and it refuses vfio's MAP notifier, so the listener's registration must fail (no VM runs).",
        Viommu = ViommuKind.EmulatedSmmuv3,
    };

    /// <summary>gb200-nvlink with its guest RAM from memory-backend-memfd: every RAM map is an
    /// IOMMU_IOAS_MAP_FILE (a dmabuf kernel has it).</summary>
    public static readonly Profile Gb200NvlinkMemfd = Gb200Nvlink with
    {
        Name = "gb200-nvlink-memfd",
        Description = "gb200-nvlink with guest RAM, DIMMs and virtio-mem from memory-backend-memfd: the iommufd container maps RAM " +
                      "by fd (IOMMU_IOAS_MAP_FILE) instead of by address; a failed MAP_FILE is fatal upstream, retried by address in NVIDIA's tree.",
        MemfdRam = true,
    };

    public static readonly Profile VrCxlType2 = new(
        "vr-cxl-type2",
        "Vera-Rubin CXL Type-2 accelerator: its DPA is device memory (placed by HDM decoder 0 in a " +
        "CXL window, not a BAR) the device reaches through ATS (CUDA UVM), so it must be in Stage-2; during reset and early init the device cannot " +
        "answer an ATC invalidation (CMDQ_OP_ATC_INV times out). 4K pages.",
        HostPageSize: 4UL << 10, IommuPageSize: 4UL << 10, KernelFlavor.Dmabuf,
        RamBase: 0x4000_0000, RamSize: 2UL << 30,
        Devices:
        [
            // BAR2 holds the CXL component registers (a 64 KiB block; the kernel traps only its
            // HDM decoder registers, the rest is an ordinary BAR mmap). The DPA is no BAR: it is
            // the VFIO CXL memory region, placed by HDM decoder 0 inside the CXL fixed memory
            // window (NV-Kernels Documentation/driver-api/vfio-pci-cxl.rst; NVIDIA QEMU PR #21).
            new("cxl0", DeviceKind.CxlType2, Ats: true,
            [
                new BarSpec(0, 64UL << 10, RegionRole.BarMmap, MsixTableOffset: 0x2000),
                new BarSpec(2, 64UL << 10, RegionRole.BarMmap),
            ],
            new HdmSpec(DpaSize: 256UL << 20, World.CxlWindowBase, World.CxlWindowSize)),
            PlainNic,
        ],
        CommonPool,
        NeedsStage2: new HashSet<RegionRole> { RegionRole.GuestRam, RegionRole.Rom, RegionRole.CxlDpa },
        AtcInvTimesOutDuringReset: new HashSet<DeviceKind> { DeviceKind.CxlType2 },
        SmmuMsiWindow);

    /// <summary>The machine the real-QEMU lab mode runs nested in its TCG guest
    /// (harness/lab/run realqemu): Debian's QEMU 7.2, q35 with 128 MiB, started stopped (-S) so
    /// no firmware runs, and vfio-pci on the kernel's sample mdev mbochs (mbochs-large) at
    /// 01:00.0, behind a PCIe root port at 00:03.0 (so it can be hot-unplugged; the harness opens
    /// the port's windows over the whole address space, so it hides no BAR), over the legacy
    /// type1 container. mbochs has a 32-bit prefetchable 64 MiB BAR0 that QEMU mmaps and a
    /// 32-bit 4 KiB MMIO BAR2 it traps (samples/vfio-mdev/mbochs.c).
    /// The harness does what firmware would, before a program: each BAR at its slot in a
    /// window at 3.5 GiB, MEM on. The type1 container has no IOMMU domain (an mdev), so it
    /// reserves no IOVA range and maps whatever it is asked. The platform regions are what the
    /// nested QEMU's listener saw at boot (corpus/realqemu/*.log): pc.rom and the isa-bios
    /// window over RAM below 1 MiB, the IOAPIC, HPET and MSI MMIO, and the 256 KiB BIOS ROM
    /// under 4 GiB. In QEMU's q35 the PCI address space sits below system memory (priority -1);
    /// here BARs render above RAM as on the other profiles: a BAR moved onto RAM is not
    /// modelled as QEMU would hide it.</summary>
    public static readonly Profile Q35Mbochs = new(
        "q35-mbochs",
        "The real-QEMU lab's nested machine: q35, 128 MiB, two DIMM slots, vfio-pci on an mbochs mdev (64 MiB " +
        "mmap'd BAR0, trapped 4 KiB BAR2, both 32-bit), type1 container without a domain. 4K pages.",
        HostPageSize: 4UL << 10, IommuPageSize: 4UL << 10, KernelFlavor.NoDmabuf,
        RamBase: 0, RamSize: 128UL << 20,
        Devices:
        [
            new("mdev0", DeviceKind.Nic, Ats: false,
            [
                new BarSpec(0, 64UL << 20, RegionRole.BarMmap, Is64: false),
                new BarSpec(2, 4UL << 10, RegionRole.BarMmap, Is64: false, Mmappable: false),
            ]),
        ],
        Pool: [new("dimm0", RegionKind.Ram, 512UL << 20), new("dimm1", RegionKind.Ram, 256UL << 20)],
        NeedsStage2: new HashSet<RegionRole> { RegionRole.GuestRam, RegionRole.Rom },
        AtcInvTimesOutDuringReset: new HashSet<DeviceKind>(),
        ReservedIovas: [],
        BarWindowBase: 0xe000_0000UL, BarWindowSize: 0x1000_0000UL, HasVirtioMem: false,
        // QEMU 7.2's q35 refused a pc-dimm off a 2 MiB boundary in the lab's differential
        // campaign (seed 1): the default alignment, see the record's summary.
        // The PCI address space under system memory: a BAR moved onto RAM is hidden (seen in
        // the lab: no listener event), one onto the BIOS ROM or past the IOAPIC's page shows
        // (seen in the lab's differential campaign once BARs could land on live sections).
        PcPciLayer: true,
        Platform:
        [
            new("pc.rom", RegionKind.Rom, 0xc_0000, 0x2_0000, InPci: true),
            new("isa-bios", RegionKind.Rom, 0xe_0000, 0x2_0000, InPci: true),
            new("ioapic", RegionKind.Mmio, 0xfec0_0000, 0x1000),
            new("hpet", RegionKind.Mmio, 0xfed0_0000, 0x400),
            new("apic-msi", RegionKind.Mmio, 0xfee0_0000, 0x10_0000),
            new("pc.bios", RegionKind.Rom, 0xfffc_0000, 0x4_0000, InPci: true),
        ],
        ChipsetPam: true);

    /// <summary>The real-QEMU lab's second nested machine: q35-mbochs with QEMU's `edu` device
    /// in the mdev's place, passed through with vfio-pci from the lab guest, where it sits behind
    /// the outer QEMU's emulated VT-d (harness/lab/run realqemu): the type1 container has a real
    /// IOMMU domain, so maps pin, IOVAs outside the domain's usable ranges are refused, and edu's
    /// DMA goes through the listener's mappings (the Stage-2 probes). edu has one BAR: 1 MiB of
    /// 32-bit MMIO (hw/misc/edu.c, read in 7.2), which vfio-pci mmaps. The usable ranges are the
    /// ones the lab kernel reported for an emulated VT-d domain (../shared/design/lab/
    /// vfio-edu-output.txt, IOMMU_IOAS_IOVA_RANGES: [0, 0xfedfffff] and [0xfef00000,
    /// 0x7fffffffff]): the interrupt window and everything above the 39-bit aperture are
    /// reserved.</summary>
    public static readonly Profile Q35Edu = Q35Mbochs with
    {
        Name = "q35-edu",
        Description = "The real-QEMU lab's VT-d machine: q35, 128 MiB, two DIMM slots, vfio-pci on QEMU's edu device (1 MiB " +
                      "mmap'd 32-bit BAR0) behind an emulated VT-d, type1 container with a real IOMMU domain. 4K pages.",
        Devices = [new("edu0", DeviceKind.Nic, Ats: false, [new BarSpec(0, 1UL << 20, RegionRole.BarMmap, Is64: false)])],
        ReservedIovas = [(0xfee0_0000UL, 0xfeef_ffffUL), (0x80_0000_0000UL, ulong.MaxValue)],
    };

    /// <summary>vr-cxl-type2 behind an SMMU whose smallest granule is 64 KiB while the host
    /// uses 4 KiB pages: iommufd's IOVA alignment (QEMU's pgsizes) is then larger than the host
    /// page, so region_add's ram_device minimum-page test (and its mirror in region_del) decides
    /// for every BAR section smaller than 64 KiB or off a 64 KiB boundary: nic0's 4 KiB BAR3,
    /// and the pieces of the BARs their MSI-X tables split. A configuration to reach that
    /// branch, not a machine someone reported. Memory devices sit on 2 MiB boundaries as
    /// everywhere, so the IOMMU can map every DIMM.</summary>
    public static readonly Profile VrCxlType2Smmu64k = VrCxlType2 with
    {
        Name = "vr-cxl-type2-smmu64k",
        Description = "vr-cxl-type2 with a 64 KiB-granule SMMU on a 4 KiB host: the ram_device minimum-page " +
                      "test of region_add/region_del decides for every sub-64K BAR piece.",
        IommuPageSize = 64UL << 10,
    };

    /// <summary>The same with a 16 KiB-granule SMMU.</summary>
    public static readonly Profile VrCxlType2Smmu16k = VrCxlType2Smmu64k with
    {
        Name = "vr-cxl-type2-smmu16k",
        Description = "vr-cxl-type2 with a 16 KiB-granule SMMU on a 4 KiB host: the ram_device minimum-page " +
                      "test decides for every BAR piece smaller than 16 KiB or off a 16 KiB boundary.",
        IommuPageSize = 16UL << 10,
    };

    /// <summary>vr-cxl-type2 with MSI-X tables of their real size inside mmap'able BARs (cxl0:
    /// 8 entries, 128 bytes; nic0: 32 entries, 512 bytes) and a 256-byte doorbell BAR3 on nic0:
    /// on a 4 KiB host the listener sees sections with sub-page edges (a mmap piece starting
    /// 128 or 512 bytes into a page; a sub-page BAR, grown to a page only where it sits on a
    /// page boundary), so every trim and alignment test of region_add and region_del decides.
    /// A configuration to reach those tests, not a machine someone reported.</summary>
    public static readonly Profile VrCxlType2Subpage = VrCxlType2 with
    {
        Name = "vr-cxl-type2-subpage",
        Description = "vr-cxl-type2 with MSI-X tables of 8 and 32 entries overlaying mmap'able BARs and a 256-byte BAR: " +
                      "sub-page section edges on a 4 KiB host.",
        Devices =
        [
            VrCxlType2.Devices[0] with
            {
                Bars = [new BarSpec(0, 64UL << 10, RegionRole.BarMmap, MsixTableOffset: 0x2000, MsixEntries: 8), new BarSpec(2, 64UL << 10, RegionRole.BarMmap)],
            },
            new("nic0", DeviceKind.Nic, Ats: false,
                [new BarSpec(0, 64UL << 10, RegionRole.BarMmap, MsixTableOffset: 0x8000, MsixEntries: 32), new BarSpec(3, 256, RegionRole.BarMmap)]),
        ],
    };

    public static IReadOnlyList<Profile> BuiltIn { get; } = [Gb200Nvlink, Gb200NvlinkSmmuv3, Gb200NvlinkMemfd, VrCxlType2, VrCxlType2Smmu64k, VrCxlType2Smmu16k, VrCxlType2Subpage, Q35Mbochs, Q35Edu];

    public static string KernelName(KernelFlavor k) => k == KernelFlavor.Dmabuf ? "dmabuf" : "no-dmabuf";

    /// <summary>Finds a built-in profile by name; the kernel flavor, when given, overrides the default.</summary>
    public static Profile Resolve(string name, string? kernel = null)
    {
        var p = BuiltIn.FirstOrDefault(b => b.Name == name)
            ?? throw new ArgumentException($"unknown profile '{name}' (known: {string.Join(", ", BuiltIn.Select(b => b.Name))})");
        return kernel switch
        {
            null => p,
            "dmabuf" => p with { Kernel = KernelFlavor.Dmabuf },
            "no-dmabuf" => p with { Kernel = KernelFlavor.NoDmabuf },
            _ => throw new ArgumentException($"unknown kernel '{kernel}' (known: dmabuf, no-dmabuf)"),
        };
    }
}

public static class RegionRoleAts
{
    /// <summary>Device-coherent memory the owning device reaches through ATS translations.</summary>
    public static bool IsAtsReachable(this RegionRole role) => role is RegionRole.NvlinkAperture or RegionRole.CxlDpa;
}

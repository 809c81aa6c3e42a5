using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>A CXL Type-2 device's memory as the VMM sees it: <paramref name="DpaSize"/> bytes of
/// device memory, placed by endpoint HDM decoder 0 inside the platform's CXL fixed memory
/// window [<paramref name="WindowBase"/>, +<paramref name="WindowSize"/>). The window's place in
/// the guest's address space is this model's layout (QEMU's own comes from its -M cxl-fmw
/// options), not a fact about a real machine.</summary>
public sealed record HdmSpec(ulong DpaSize, ulong WindowBase, ulong WindowSize)
{
    /// <summary>HDM decoder bases and sizes are multiples of 256 MiB (CXL 2.0 §8.2.5.12).</summary>
    public const ulong Granule = 256UL << 20;

    /// <summary>The decoder bases a guest can commit: each granule of the window the DPA fits from.</summary>
    public ulong Slots => (WindowSize - DpaSize) / Granule + 1;

    public ulong SlotBase(ulong slot) => WindowBase + slot * Granule;
}

/// <summary>
/// Endpoint HDM decoder 0 of a CXL Type-2 device and the VMM's mapping of the device memory,
/// as NVIDIA's tree does it (NV-Kernels Documentation/driver-api/vfio-pci-cxl.rst, NVIDIA QEMU
/// PR #21): the DPA is a VFIO device region (VFIO_REGION_SUBTYPE_CXL_MEM, demand-fault mmap),
/// not a BAR, so COMMAND.MEM, BAR moves, BAR sizing and INTx mmap toggles never touch it. QEMU
/// commits decoder 0 at the window's base at machine_done; the guest may decommit it and commit
/// it elsewhere in the window (the VMM maps the region at the committed GPA). A host-side reset
/// (the reset ioctl, an FLR, a CXL reset) revokes the mapping and re-samples the decoder, which
/// comes back committed at the firmware base with no new guest commit.
///
/// Not known, and modelled from the seed report and NVIDIA PR #26 instead: whether NVIDIA's
/// QEMU drops its mapping of the region when the kernel revokes it at reset (its reset code was
/// not read). The model drops it when the reset begins and maps it again when the VMM rescans
/// the decoder after the reset, which is the unmap-during-reset PR #26 blames for the ATC_INV
/// timeout; and after a reset the decoder is committed at the base QEMU programmed at
/// machine_done (the kernel keeps the physical decoder's base; which GPA the re-sampled shadow
/// reads back is not documented).
/// </summary>
public sealed class HdmDecoder
{
    public HdmSpec Spec { get; }

    /// <summary>The VFIO CXL memory region's mmap (a ram_device owned by the device).</summary>
    public MemoryRegion Dpa { get; }

    /// <summary>The CXL fixed memory window: trapped (no RAM) wherever no decoder maps memory.</summary>
    public MemoryRegion Window { get; }

    /// <summary>The decoder's committed base, or null while decommitted.</summary>
    public ulong? CommittedBase { get; private set; }

    /// <summary>Where the VMM has the DPA mapped in guest memory, or null (decommitted, or
    /// dropped during a reset).</summary>
    public ulong? MappedAt { get; private set; }

    /// <summary>When the World last mapped the DPA (its own counter), as <see cref="PciBar.MappedSeq"/>.</summary>
    internal long MappedSeq { get; set; }

    public HdmDecoder(string deviceId, HdmSpec spec)
    {
        Spec = spec;
        Dpa = new MemoryRegion($"{deviceId} cxl-dpa mmaps[0]", RegionKind.RamDevice, spec.DpaSize, RegionRole.CxlDpa, deviceId);
        Window = new MemoryRegion($"cxl-fmw for {deviceId}", RegionKind.Mmio, spec.WindowSize, RegionRole.Mmio, Owner: null);
    }

    /// <summary>machine_done: QEMU commits decoder 0 at the window's base and maps the DPA there.</summary>
    public void Boot() => Commit(Spec.WindowBase);

    public void Commit(ulong gpa)
    {
        CommittedBase = gpa;
        MappedAt = gpa;
    }

    public void Decommit()
    {
        CommittedBase = null;
        MappedAt = null;
    }

    /// <summary>The kernel revokes the mapping as the reset begins; the VMM drops its own.</summary>
    public void Revoke() => MappedAt = null;

    /// <summary>After the reset the kernel re-samples the decoder (committed at the firmware
    /// base) and the VMM, rescanning it, maps the DPA there.</summary>
    public void Rescan() => Boot();

    /// <summary>Why a guest cannot commit the decoder at <paramref name="gpa"/>, or null.</summary>
    public string? CommitProblem(ulong gpa)
    {
        if (CommittedBase is not null) return $"HDM decoder 0 is committed at 0x{CommittedBase:x}: decommit it first";
        if (gpa < Spec.WindowBase || gpa % HdmSpec.Granule != 0 || (UInt128)gpa + Spec.DpaSize > (UInt128)Spec.WindowBase + Spec.WindowSize)
            return $"HDM decoder base 0x{gpa:x}: the 0x{Spec.DpaSize:x}-byte DPA must start on a 256 MiB boundary inside the CXL window [0x{Spec.WindowBase:x}, +0x{Spec.WindowSize:x})";
        return null;
    }
}

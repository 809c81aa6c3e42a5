using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Listener;

/// <summary>
/// What a listener model can see of QEMU around it: the kernel container its container maps
/// into (an iommufd IOAS, or a legacy type1 container), the
/// process's host memory (ram_ptr and RAMBlock fd of a region), the real host page size,
/// the devices (for patches that look at a device's reset state), the trace, and for the
/// vIOMMU path the guest's vIOMMU (notifier registration, replay) and address_space_memory
/// (what an IOTLB entry's GPA translates to), where memory_region_ref/unref are counted, and
/// the RamDiscardManager of a region that has one (virtio-mem), and where dirty-bitmap reads go.
/// </summary>
public sealed record ListenerEnvironment(
    IDmaMappings Kernel,
    HostMemory Host,
    ulong HostPageSize,
    IReadOnlyList<PciDevice> Devices,
    TraceLog Trace,
    Viommu? Viommu = null,
    Func<ulong, Section?>? ResolveGpa = null,
    RegionRefs? Refs = null,
    Func<MemoryRegion, VirtioMem?>? DiscardManagerOf = null,
    DirtyLog? DirtyLog = null)
{
    /// <summary>The IOAS, for an iommufd container.</summary>
    public IIoas Ioas => Kernel as IIoas ?? throw new InvalidOperationException("the listener's container is type1, not iommufd");

    public PciDevice? Device(string? id) => id is null ? null : Devices.FirstOrDefault(d => d.Id == id);
}

using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.Targets;

/// <summary>
/// NVIDIA PR#24: 2e963ffd374c adds the generic skip flag (memory_region_set_skip_iommu_map,
/// honoured in region_add only, before dma_map) and e227a6bc56af marks CXL mmap subregions
/// with it at creation in vfio_region_mmap(). region_del still unmaps an aligned skipped
/// section: the asymmetry the review pointed out.
/// </summary>
public class Nv2e963ffE227a6b : NvidiaVfioListener
{
    public override TargetInfo Info { get; } = new(
        "nv-2e963ff+e227a6b", "nvidia_stable-11.0", ["2e963ffd374c", "e227a6bc56af"],
        "Generic skip flag honoured on add only; CXL mmap subregions marked skip.",
        TargetKind.Commit, "NVIDIA PR #24 (2026-06-16, closed), from its description and first review comment; diffs not found (nvidia-tree.md)");

    /// <summary>memory_region_skip_iommu_map: only ram_device regions honour the flag, and
    /// e227a6b sets it on the CXL region's mmaps.</summary>
    protected static bool SkipIommuMap(MemoryRegion mr) => mr.IsRamDevice && mr.Role == RegionRole.CxlDpa;

    protected override bool SkipDmaMap(in Section s, ulong iova, UInt128 llsize)
    {
        if (!SkipIommuMap(s.Mr)) return false;
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_listener_region_skip_dma_map", $"Region \"{s.Mr.Name}\" iova=0x{iova:x} size=0x{llsize:x}");
        return true;
    }
}

using VfioFuzz.Memory;

namespace VfioFuzz.Targets;

/// <summary>
/// The question the PR#24 review asked ("why do we need skip_iommu_map() in the
/// vfio_iommu_map_notify path?"), built as a patch: 2e963ff + e227a6b, plus the skip flag
/// honoured in vfio_iommu_map_notify's MAP, right after the translation (the natural place,
/// qemu-listener.md §5 (a)). UNMAP carries no region, so nothing can be skipped there (§5 (b)):
/// the guest's unmap of a skipped mapping still reaches IOMMU_IOAS_UNMAP.
/// </summary>
public sealed class Nv2e963ffNotify : Nv2e963ffE227a6b
{
    public override Listener.TargetInfo Info { get; } = new(
        "nv-2e963ff-notify", "nvidia_stable-11.0", ["2e963ffd374c", "e227a6bc56af"],
        "2e963ff+e227a6b with the skip flag also honoured on vIOMMU MAP notifications (unmap cannot be filtered).",
        Listener.TargetKind.Proposal, "the PR #24 review question about vIOMMU notifications; no commit implements it");

    protected override bool SkipNotifyMap(in Section target, ulong iova, ulong size)
    {
        if (!SkipIommuMap(target.Mr)) return false;
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_listener_region_skip_dma_map", $"Region \"{target.Mr.Name}\" iova=0x{iova:x} size=0x{size:x}");
        return true;
    }
}

using VfioFuzz.Listener;
using VfioFuzz.Memory;

namespace VfioFuzz.Targets;

/// <summary>
/// The review's fix on top of PR#24: region_del also consults the skip flag and does not
/// unmap a skipped section (the unref and window cleanup still run). Symmetric, but the CXL
/// DPA still never reaches Stage-2, which is why the skip was reverted (cdf5e75).
/// </summary>
public sealed class Nv2e963ffFixed : Nv2e963ffE227a6b
{
    public override TargetInfo Info { get; } = new(
        "nv-2e963ff-fixed", "nvidia_stable-11.0", ["2e963ffd374c", "e227a6bc56af"],
        "PR#24 plus the review fix: region_del skips the unmap of skip-marked sections.",
        TargetKind.Proposal, "the fix the PR #24 review comment (2026-06-16) asks for; no commit implements it (nvidia-tree.md)");

    protected override bool SkipDmaUnmap(in Section s) => SkipIommuMap(s.Mr);
}

using VfioFuzz.Listener;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.Targets;

/// <summary>
/// NVIDIA PR#26, cdf5e75: the revert of d814a45. Every ram_device is mapped again (the CXL DPA
/// through dmabuf/MAP_FILE), restoring upstream behaviour on the stable branch, and with it
/// the exposure to ATC invalidations while a CXL device resets.
/// </summary>
public sealed class NvCdf5e75 : NvidiaVfioListener
{
    public override TargetInfo Info { get; } = new(
        "nv-cdf5e75", "nvidia_stable-11.0", ["d814a45f7639", "cdf5e75"],
        "Revert of d814a45: every ram_device mapped, including CXL DPA.",
        TargetKind.Commit, "NVIDIA PR #26 (2026-06-23), the revert of d814a45 (nvidia-tree.md)");
}

using VfioFuzz.Listener;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.Targets;

/// <summary>Upstream QEMU 11.0: every aligned RAM and ram_device section is mapped, and
/// region_del unmaps what region_add's alignment test would have let through.</summary>
public sealed class Qemu110 : VfioListener
{
    public override TargetInfo Info { get; } = new(
        "qemu-11.0", "master", ["75fdca413da5202c4f9d6cd6783179d899cc433a"],
        "Upstream listener as of the 11.0 cycle; no skip_iommu_map (that lands in 11.1).",
        TargetKind.Upstream, "QEMU master as of 2026-02-15 (qemu-listener.md [M])");
}

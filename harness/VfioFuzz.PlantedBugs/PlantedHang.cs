using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// Upstream's listener whose region_add of DIMM dimm1 never returns: a listener call that
/// hangs, which no per-program watchdog checked between ops can end. Not a chain (the
/// bench's depth section races <see cref="PlantedBug"/>s only): the tests hold the guided
/// engine to saving such an input in hangs/ and going on.
/// </summary>
public sealed class PlantedHang : VfioListener
{
    public override TargetInfo Info { get; } = new("planted-hang", "none", [],
        "Planted: region_add of dimm1 never returns.",
        TargetKind.Planted, "planted for the guided engine's hang tests (no tree has it)");

    public override void RegionAdd(in Section s)
    {
        if (s.Mr.Name == "dimm1") Thread.Sleep(Timeout.Infinite);
        base.RegionAdd(s);
    }
}

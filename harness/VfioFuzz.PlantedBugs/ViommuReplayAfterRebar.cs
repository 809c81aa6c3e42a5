using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// The example of a deep bug: a stale mapping that matters only after a vIOMMU replay
/// following a reset and a BAR move. The CXL device resets and comes back; the guest moves
/// its BAR2 into the other device's window and enables it; the guest turns its vIOMMU on,
/// maps an IOVA onto that BAR and turns the vIOMMU off again.
/// </summary>
public sealed class ViommuReplayAfterRebar : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-viommu-replay-after-rebar", "none", [],
        "Planted: reset, init-done, BAR2 moved into nic0's window and enabled, vIOMMU on, IOTLB entry onto BAR2, vIOMMU off.",
        TargetKind.Planted, "planted for bench --only depth (no tree has it)");

    public override int Depth => 6;

    public override FuzzProgram Reproducer { get; } = new([
        new DeviceReset("cxl0"),
        new DeviceInitDone("cxl0"),
        new MoveBar("cxl0", 2, World.BarWindowBase + World.BarWindowSize + 0x10000),
        new SetCommandMem("cxl0", true),
        new SetViommu(true),
        new IotlbMap(0x1_0000_0000, World.BarWindowBase + World.BarWindowSize + 0x10000, 0x1000, true),
        new SetViommu(false),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Entered("cxl0", DeviceState.Resetting),
        1 => seen.Entered("cxl0", DeviceState.Running),
        2 => seen.Is(SeenKind.Add, CxlBar2) && seen.Gpa >= World.BarWindowBase + World.BarWindowSize,
        3 => seen.Kind == SeenKind.Add && seen.Role == RegionRole.Viommu,
        4 => seen.Is(SeenKind.IotlbMap, CxlBar2),
        5 => seen.Kind == SeenKind.Del && seen.Role == RegionRole.Viommu,
        _ => false,
    };
}

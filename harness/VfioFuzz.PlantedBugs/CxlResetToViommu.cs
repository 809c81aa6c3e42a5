using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// After a CXL device reset, its DPA moved and reached through a guest IOTLB entry; a migration
/// started and cancelled; then virtio-mem grows at its top.
/// </summary>
public sealed class CxlResetToViommu : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-cxl-reset-to-viommu", "none", [],
        "Planted: cxl0 reset, init-done and MEM on, decoder 0 moved to slot 9, vIOMMU on, IOTLB entry onto the DPA, vIOMMU off, dirty logging on and off, a high virtio-mem block plugged.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 11;

    public override FuzzProgram Reproducer { get; } = new([
        new DeviceReset("cxl0"),
        new DeviceInitDone("cxl0"),
        new SetCommandMem("cxl0", true),
        new HdmDecommit("cxl0"),
        new HdmCommit("cxl0", HdmSlot(9)),
        new SetViommu(true),
        new IotlbMap(0x1_0000_0000, HdmSlot(9), 0x1000, true),
        new SetViommu(false),
        new SetDirtyTracking(true),
        new SetDirtyTracking(false),
        new VmemPlug(220),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Entered("cxl0", DeviceState.Resetting),
        1 => seen.Entered("cxl0", DeviceState.Running),
        2 => seen.Is(SeenKind.Add, CxlBar0),
        3 => seen.Is(SeenKind.Del, Dpa),
        4 => seen.Is(SeenKind.Add, Dpa) && seen.Gpa == HdmSlot(9),
        5 => seen.Kind == SeenKind.Add && seen.Role == RegionRole.Viommu,
        6 => seen.Is(SeenKind.IotlbMap, Dpa),
        7 => seen.Kind == SeenKind.Del && seen.Role == RegionRole.Viommu,
        8 => seen is { Kind: SeenKind.DirtyLog, On: true },
        9 => seen is { Kind: SeenKind.DirtyLog, On: false },
        10 => seen.Kind == SeenKind.Populate && seen.Gpa >= VmemBlock(200),
        _ => false,
    };
}

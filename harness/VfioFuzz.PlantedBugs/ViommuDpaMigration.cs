using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// Guest IOTLB entries onto device memory and RAM, dropped with the vIOMMU; the DPA moved; a
/// virtio-mem block plugged; then a NIC reset in the middle of a migration.
/// </summary>
public sealed class ViommuDpaMigration : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-viommu-dpa-migration", "none", [],
        "Planted: vIOMMU on, IOTLB entries onto the DPA and onto RAM, vIOMMU off, decoder 0 moved to slot 7, a mid virtio-mem block plugged, dirty logging on, nic0 reset and init-done.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 10;

    public override FuzzProgram Reproducer { get; } = new([
        new SetViommu(true),
        new IotlbMap(0x1_0000_0000, HdmSlot(0), 0x1000, true),
        new IotlbMap(0x1_0020_0000, 0x4000_0000, 0x1000, true),
        new SetViommu(false),
        new HdmDecommit("cxl0"),
        new HdmCommit("cxl0", HdmSlot(7)),
        new VmemPlug(130),
        new SetDirtyTracking(true),
        new DeviceReset("nic0"),
        new DeviceInitDone("nic0"),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Kind == SeenKind.Add && seen.Role == RegionRole.Viommu,
        1 => seen.Is(SeenKind.IotlbMap, Dpa),
        2 => seen.Is(SeenKind.IotlbMap, "ram"),
        3 => seen.Kind == SeenKind.Del && seen.Role == RegionRole.Viommu,
        4 => seen.Is(SeenKind.Del, Dpa),
        5 => seen.Is(SeenKind.Add, Dpa) && seen.Gpa == HdmSlot(7),
        6 => seen.Kind == SeenKind.Populate && seen.Gpa >= VmemBlock(128) && seen.Gpa < VmemBlock(160),
        7 => seen is { Kind: SeenKind.DirtyLog, On: true },
        8 => seen.Entered("nic0", DeviceState.Resetting),
        9 => seen.Entered("nic0", DeviceState.Running),
        _ => false,
    };
}

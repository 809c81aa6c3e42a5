using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// The longest chain: a DIMM and virtio-mem, a NIC BAR moved into the other device's window, a
/// migration started and cancelled, a CXL function-level reset, a guest IOTLB entry onto the DIMM, the DIMM unplugged and a ROM
/// plugged in the next slot.
/// </summary>
public sealed class LongTail : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-long-tail", "none", [],
        "Planted: dimm1 in slot 3, a low virtio-mem block plugged, nic0 BAR0 moved into cxl0's window, dirty logging on and off, cxl0 FLR and init-done, vIOMMU on, IOTLB entry onto dimm1, vIOMMU off, dimm1 out, rom0 into slot 4.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 13;

    public override FuzzProgram Reproducer { get; } = new([
        new MapRegion("dimm1", HotplugSlot(3)),
        new VmemPlug(5),
        new MoveBar("nic0", 0, World.BarWindowBase + 0x10_0000),
        new SetDirtyTracking(true),
        new SetDirtyTracking(false),
        new DeviceFlr("cxl0"),
        new DeviceInitDone("cxl0"),
        new SetViommu(true),
        new IotlbMap(0x1_0000_0000, HotplugSlot(3), 0x1000, true),
        new SetViommu(false),
        new UnmapRegion("dimm1"),
        new MapRegion("rom0", HotplugSlot(4)),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Is(SeenKind.Add, "dimm1") && seen.Gpa == HotplugSlot(3),
        1 => seen.Kind == SeenKind.Populate && seen.Gpa < VmemBlock(32),
        2 => seen.Is(SeenKind.Del, NicBar0),
        3 => seen.Is(SeenKind.Add, NicBar0) && !InNicWindow(seen.Gpa),
        4 => seen is { Kind: SeenKind.DirtyLog, On: true },
        5 => seen is { Kind: SeenKind.DirtyLog, On: false },
        6 => seen.Entered("cxl0", DeviceState.Resetting),
        7 => seen.Entered("cxl0", DeviceState.Running),
        8 => seen.Kind == SeenKind.Add && seen.Role == RegionRole.Viommu,
        9 => seen.Is(SeenKind.IotlbMap, "dimm1"),
        10 => seen.Kind == SeenKind.Del && seen.Role == RegionRole.Viommu,
        11 => seen.Is(SeenKind.Del, "dimm1"),
        12 => seen.Is(SeenKind.Add, "rom0") && seen.Gpa == HotplugSlot(4),
        _ => false,
    };
}

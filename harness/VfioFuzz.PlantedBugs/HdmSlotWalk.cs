using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// The shallowest chain: the guest's CXL driver moves HDM decoder 0 to slot 3 of the CXL
/// window, migration starts, and the driver moves it again, to slot 12.
/// </summary>
public sealed class HdmSlotWalk : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-hdm-slot-walk", "none", [],
        "Planted: decoder 0 decommitted, committed in slot 3, dirty logging on, decommitted, committed in slot 12.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 5;

    public override FuzzProgram Reproducer { get; } = new([
        new HdmDecommit("cxl0"),
        new HdmCommit("cxl0", HdmSlot(3)),
        new SetDirtyTracking(true),
        new HdmDecommit("cxl0"),
        new HdmCommit("cxl0", HdmSlot(12)),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Is(SeenKind.Del, Dpa),
        1 => seen.Is(SeenKind.Add, Dpa) && seen.Gpa == HdmSlot(3),
        2 => seen is { Kind: SeenKind.DirtyLog, On: true },
        3 => seen.Is(SeenKind.Del, Dpa),
        4 => seen.Is(SeenKind.Add, Dpa) && seen.Gpa == HdmSlot(12),
        _ => false,
    };
}

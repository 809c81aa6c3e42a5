using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// A chipset-style read-only flip of a DIMM, back and forth around ROM and DIMM plugs, the
/// last flip while migration logs dirty pages.
/// </summary>
public sealed class ReadonlyDimmDance : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-readonly-dimm-dance", "none", [],
        "Planted: dimm0 in slot 2, made read-only, rom0 in slot 5, dimm0 writable, rom0 out, dimm1 in slot 6, rom0 in slot 0, dirty logging on, dimm0 read-only.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 9;

    public override FuzzProgram Reproducer { get; } = new([
        new MapRegion("dimm0", HotplugSlot(2)),
        new SetReadOnly("dimm0", true),
        new MapRegion("rom0", HotplugSlot(5)),
        new SetReadOnly("dimm0", false),
        new UnmapRegion("rom0"),
        new MapRegion("dimm1", HotplugSlot(6)),
        new MapRegion("rom0", HotplugSlot(0)),
        new SetDirtyTracking(true),
        new SetReadOnly("dimm0", true),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Is(SeenKind.Add, "dimm0") && seen.Gpa == HotplugSlot(2),
        1 => seen.Is(SeenKind.Add, "dimm0") && seen.On,
        2 => seen.Is(SeenKind.Add, "rom0") && seen.Gpa == HotplugSlot(5),
        3 => seen.Is(SeenKind.Add, "dimm0") && !seen.On,
        4 => seen.Is(SeenKind.Del, "rom0"),
        5 => seen.Is(SeenKind.Add, "dimm1") && seen.Gpa == HotplugSlot(6),
        6 => seen.Is(SeenKind.Add, "rom0") && seen.Gpa == HotplugSlot(0),
        7 => seen is { Kind: SeenKind.DirtyLog, On: true },
        8 => seen.Is(SeenKind.Add, "dimm0") && seen.On,
        _ => false,
    };
}

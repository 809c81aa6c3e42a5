using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// A migration that was started and cancelled between two virtio-mem plugs at either end of
/// the device, followed by a DIMM that comes and goes while a ROM is plugged.
/// </summary>
public sealed class VmemMigration : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-vmem-migration", "none", [],
        "Planted: a low virtio-mem block plugged, dirty logging on and off, a high block plugged, dimm1 plugged in slot 7, rom0 plugged, dimm1 unplugged.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 7;

    public override FuzzProgram Reproducer { get; } = new([
        new VmemPlug(3),
        new SetDirtyTracking(true),
        new SetDirtyTracking(false),
        new VmemPlug(250),
        new MapRegion("dimm1", HotplugSlot(7)),
        new MapRegion("rom0", HotplugSlot(2)),
        new UnmapRegion("dimm1"),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Kind == SeenKind.Populate && seen.Gpa < VmemBlock(16),
        1 => seen is { Kind: SeenKind.DirtyLog, On: true },
        2 => seen is { Kind: SeenKind.DirtyLog, On: false },
        3 => seen.Kind == SeenKind.Populate && seen.Gpa >= VmemBlock(240),
        4 => seen.Is(SeenKind.Add, "dimm1") && seen.Gpa == HotplugSlot(7),
        5 => seen.Is(SeenKind.Add, "rom0"),
        6 => seen.Is(SeenKind.Del, "dimm1"),
        _ => false,
    };
}

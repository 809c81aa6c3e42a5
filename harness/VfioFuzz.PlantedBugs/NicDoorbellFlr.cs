using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// The NIC's doorbell page through an INTx mmap toggle, a function-level reset, a move into
/// the other device's BAR window, and a reset of the other device.
/// </summary>
public sealed class NicDoorbellFlr : PlantedBug
{
    public override TargetInfo Info { get; } = new("planted-nic-doorbell-flr", "none", [],
        "Planted: nic0 INTx masks and restores its mmaps, nic0 FLR and init-done, its doorbell BAR3 moved into cxl0's window, cxl0 reset and init-done, nic0 MEM off.",
        TargetKind.Planted, "planted for the bench's depth section (no tree has it)");

    public override int Depth => 8;

    public override FuzzProgram Reproducer { get; } = new([
        new IntxInterrupt("nic0"),
        new IntxMmapTimer("nic0"),
        new DeviceFlr("nic0"),
        new DeviceInitDone("nic0"),
        new MoveBar("nic0", 3, World.BarWindowBase + 0x100_0000),
        new DeviceReset("cxl0"),
        new DeviceInitDone("cxl0"),
        new SetCommandMem("nic0", false),
    ]);

    protected override bool Step(int stage, in Seen seen) => stage switch
    {
        0 => seen.Is(SeenKind.Del, NicBar3),
        1 => seen.Is(SeenKind.Add, NicBar3),
        2 => seen.Entered("nic0", DeviceState.Resetting),
        3 => seen.Entered("nic0", DeviceState.Running),
        4 => seen.Is(SeenKind.Add, NicBar3) && !InNicWindow(seen.Gpa),
        5 => seen.Entered("cxl0", DeviceState.Resetting),
        6 => seen.Entered("cxl0", DeviceState.Running),
        7 => seen.Is(SeenKind.Del, NicBar3),
        _ => false,
    };
}

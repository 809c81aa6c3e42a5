using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.PlantedBugs;

/// <summary>
/// Upstream's listener (qemu-11.0) with one bug planted behind a chain of steps, as Magma
/// plants a canary behind a path: each step is a test of what the listener was told (a
/// section added at a given place, a device reaching a state, an IOTLB entry onto a given
/// section), met in order. Each step is its own case of <see cref="Step"/>, so an engine's
/// coverage sees the chain advance one step at a time, as it sees a parser's nested checks;
/// pure random programs see nothing until the whole chain happens to occur. A device reset
/// (or a system reset) in the middle sends the chain back to its start, unless the next step
/// asks for it: the planted state is "what happened since the last reset".
///
/// The flaw, the same in every planted bug so only the path differs: once the chain is
/// complete, the listener unmaps guest RAM while RAM is still in the view (as if stale
/// bookkeeping said RAM was gone), at once or at RAM's next region_add; the Stage-2 oracle
/// then reports RAM missing from the IOAS.
/// </summary>
public abstract class PlantedBug : VfioListener
{
    int _stage;
    bool _flawPending;
    (ulong Gpa, UInt128 Size)? _ram;

    /// <summary>How many steps the chain has.</summary>
    public abstract int Depth { get; }

    /// <summary>The profile every chain is written for: the richest (two devices, an HDM
    /// decoder, virtio-mem, a vIOMMU, dirty tracking, DIMMs and a ROM).</summary>
    public Profile Profile => Profile.VrCxlType2;

    /// <summary>A shortest known program that completes the chain (Magma's proof of
    /// vulnerability): the tests hold every op of it necessary.</summary>
    public abstract FuzzProgram Reproducer { get; }

    /// <summary>Whether <paramref name="seen"/> meets step <paramref name="stage"/> (0-based).</summary>
    protected abstract bool Step(int stage, in Seen seen);

    /// <summary>The step the chain has reached (Depth once complete): for tests and traces.</summary>
    public int Stage => _stage;

    public override void RegionAdd(in Section s)
    {
        Observe(Seen.Of(SeenKind.Add, s));
        base.RegionAdd(s);
        if (IsGuestRam(s))
        {
            _ram = (s.Gpa, s.Size);
            if (_flawPending) DropRam();
        }
    }

    public override void RegionDel(in Section s)
    {
        if (IsGuestRam(s)) _ram = null;
        Observe(Seen.Of(SeenKind.Del, s));
        base.RegionDel(s);
    }

    public override void DeviceStateChanged(PciDevice device)
    {
        Observe(Seen.StateOf(device));
        base.DeviceStateChanged(device);
    }

    public override void LogGlobal(bool started)
    {
        Observe(new Seen(SeenKind.DirtyLog, "", default, null, 0, On: started));
        base.LogGlobal(started);
    }

    protected override bool SkipNotifyMap(in Section target, ulong iova, ulong size)
    {
        Observe(new Seen(SeenKind.IotlbMap, target.Mr.Name, target.Mr.Role, target.Mr.Owner, iova));
        return base.SkipNotifyMap(target, iova, size);
    }

    protected override int NotifyPopulate(Section s, ulong offset, ulong size)
    {
        Observe(Seen.Of(SeenKind.Populate, s) with { Gpa = s.Gpa + (offset - s.OffsetInRegion) });
        return base.NotifyPopulate(s, offset, size);
    }

    void Observe(in Seen seen)
    {
        if (_stage == Depth) return;
        if (Step(_stage, seen))
        {
            if (++_stage < Depth) return;
            Env.Trace.Note($"planted: {Info.Id}: chain complete ({Depth} steps), guest RAM's mapping goes");
            _flawPending = true;
            if (_ram is not null) DropRam();
        }
        else if (_stage > 0 && seen.Kind == SeenKind.DeviceState && seen.State == DeviceState.Resetting)
            _stage = 0;
    }

    void DropRam()
    {
        _flawPending = false;
        var (gpa, size) = _ram!.Value;
        Container.DmaUnmap(gpa, size);
    }

    /// <summary>Every planted bug's finding: RAM missing from the IOAS (Stage-2).</summary>
    public const string Signature = "missing-stage2:guest-ram";

    // Names and places the chains test, on the vr-cxl-type2 profile every planted bug uses.
    protected const string Dpa = "cxl0 cxl-dpa mmaps[0]";
    protected const string CxlBar0 = "cxl0 BAR0 mmaps[0]";
    protected const string CxlBar2 = "cxl0 BAR2 mmaps[0]";
    protected const string NicBar0 = "nic0 BAR0 mmaps[0]";
    protected const string NicBar3 = "nic0 BAR3 mmaps[0]";

    /// <summary>Where HDM decoder 0 puts cxl0's DPA when committed in slot <paramref name="n"/> of the CXL window.</summary>
    protected static ulong HdmSlot(int n) => Profile.VrCxlType2.Devices.Single(d => d.Id == "cxl0").Hdm!.SlotBase((ulong)n);

    /// <summary>The GPA of virtio-mem block <paramref name="n"/>.</summary>
    protected static ulong VmemBlock(int n) => VirtioMem.Gpa + (ulong)n * VirtioMem.BlockSize;

    /// <summary>Pool hotplug slot <paramref name="n"/>.</summary>
    protected static ulong HotplugSlot(int n) => World.HotplugBase + (ulong)n * World.HotplugSlot;

    /// <summary>In or above the second device's (nic0's) BAR window: the first is cxl0's.</summary>
    protected static bool InNicWindow(ulong gpa) => gpa >= Profile.VrCxlType2.BarSlot(window: 1, slot: 0, barSize: 0);

    /// <summary>The machine's main RAM (not a DIMM, not virtio-mem).</summary>
    static bool IsGuestRam(in Section s) => s.Mr.Role == RegionRole.GuestRam && s.Mr.Name == "ram";
}

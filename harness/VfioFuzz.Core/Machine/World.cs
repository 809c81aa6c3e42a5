using System.Runtime.InteropServices;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using VfioFuzz.Memory;
using VfioFuzz.Programs;

namespace VfioFuzz.Machine;

/// <summary>
/// The guest physical address space as QEMU's memory core builds it, and the only place that
/// knows FlatView rules: ops change regions and devices, and every change that alters the
/// view becomes one transaction, so no program can produce a listener call sequence that
/// QEMU's memory core never would.
/// </summary>
public sealed class World
{
    /// <summary>Where firmware puts each device's BARs unless the profile says otherwise: one
    /// 256 GiB window per device.</summary>
    public const ulong BarWindowBase = 0x100_0000_0000UL;
    public const ulong BarWindowSize = 0x40_0000_0000UL;

    /// <summary>Where a profile's CXL fixed memory window goes: 4 GiB at 512 GiB, between the
    /// virtio-mem region and the BAR windows (this model's layout).</summary>
    public const ulong CxlWindowBase = 0x80_0000_0000UL;
    public const ulong CxlWindowSize = 4UL << 30;

    /// <summary>Where pool regions are plugged: 1 GiB slots from 4 GiB.</summary>
    public const ulong HotplugBase = 0x1_0000_0000UL;
    public const ulong HotplugSlot = 1UL << 30;

    public Profile Profile { get; }
    public HostMemory Host { get; } = new();

    /// <summary>The device address space the listener is registered on: system memory, or
    /// the vIOMMU's region while the guest has it enabled.</summary>
    public FlatView View { get; private set; }

    /// <summary>address_space_memory: what a GPA resolves to (vIOMMU translations land here).
    /// While the guest has the vIOMMU enabled the listener sees the vIOMMU's view, and nothing
    /// reads this one at a commit: it is rendered when first asked for after a change (a guest
    /// IOTLB translation, the decoder), from the state of that moment, which is the state of the
    /// last commit (every change commits before an op ends or an event reaches the listener).</summary>
    public FlatView SystemView => _systemView ??= _rendered = Render();
    FlatView? _systemView;

    // The last system view rendered: the painter answers with it when a render changes nothing.
    FlatView? _rendered;

    public Viommu Viommu { get; }

    /// <summary>The virtio-mem device's memory, placed at boot; its blocks plug and unplug.</summary>
    public VirtioMem VirtioMem { get; } = new();

    /// <summary>Global dirty tracking (migration running): log_global_start until log_global_stop.</summary>
    public bool DirtyTracking { get; private set; }
    readonly FlatView _iommuView;
    // Arrays, not list interfaces: oracles and the decoder walk them after every op.
    public ImmutableArray<PciDevice> Devices { get; }
    public MemoryRegion Ram { get; }
    public ImmutableArray<MemoryRegion> Pool { get; }

    /// <summary>The machine's own fixed regions and where they sit.</summary>
    readonly ImmutableArray<(MemoryRegion Mr, ulong Gpa, bool InPci)> _platform;

    readonly Dictionary<string, (ulong Gpa, long Seq)> _plugged = [];
    readonly HashSet<string> _readOnly = [];

    /// <summary>q35's PAM segments: 0 the BIOS area (0xf0000, 64 KiB, PAM0's high nibble),
    /// 1-12 the 16 KiB segments from 0xc0000 (PAM1-PAM6, low nibble for odd segments, high for
    /// even); hw/pci-host/pam.h and q35.c mch_update_pam, read in 7.2.</summary>
    public const int PamSegments = 13;
    readonly byte[] _pam = new byte[PamSegments];
    readonly List<(int Priority, long Seq, PciBar? Bar, PciDevice? Device, MemoryRegion? Mr, ulong Gpa, bool InPci)> _renderChildren = new(8);
    int[] _renderOrder = new int[16];
    readonly List<Placement> _renderLeaves = new(16);
    readonly FlatViewCache _views = new();
    long _seq;
    readonly FlatView? _bootSystemView;

    public World(Profile profile)
    {
        Profile = profile;
        Viommu = new Viommu(profile.Viommu);
        Ram = new MemoryRegion("ram", RegionKind.Ram, profile.RamSize, RegionRole.GuestRam, Owner: null);
        Host.Allocate(Ram, profile.Kernel, profile.MemfdRam);
        Pool = [.. profile.Pool.Select(p => new MemoryRegion(p.Name, p.Kind, p.Size, RoleOf(p.Kind), Owner: null))];
        foreach (var mr in Pool) Host.Allocate(mr, profile.Kernel, profile.MemfdRam);
        if (profile.HasVirtioMem) Host.Allocate(VirtioMem.Region, profile.Kernel, profile.MemfdRam);
        _platform = [.. (profile.Platform ?? []).Select(p => (new MemoryRegion(p.Name, p.Kind, p.Size, RoleOf(p.Kind), Owner: null), p.Gpa, p.InPci))];
        foreach (var (mr, _, _) in _platform) Host.Allocate(mr, profile.Kernel);

        Devices = [.. profile.Devices.Select(d => new PciDevice(d, profile.HostPageSize))];
        foreach (var dev in Devices)
            foreach (var bar in dev.Bars)
            {
                Host.Allocate(bar.Mmap, profile.Kernel);
                // The grown mmap is the same mapping (the kernel mmapped a whole page anyway).
                if (bar.GrownMmap is { } grown)
                    Host.Adopt(grown, Host[bar.Mmap].Va, Host[bar.Mmap].Fd, Host[bar.Mmap].FdOffset);
            }
        foreach (var dev in Devices)
            if (dev.Hdm is { } hdm) Host.Allocate(hdm.Dpa, profile.Kernel);
        _iommuView = FlatView.Render([new Placement(Viommu.Region, 0)]);
        Boot();
        _bootSystemView = SystemView;
    }

    /// <summary>The role of a machine region (pool or platform) by its kind.</summary>
    static RegionRole RoleOf(RegionKind kind) => kind switch
    {
        RegionKind.Rom => RegionRole.Rom,
        RegionKind.Ram => RegionRole.GuestRam,
        _ => RegionRole.Mmio,
    };

    /// <summary>Firmware enumeration, done before the program starts: each BAR at its own slot
    /// in the device's window, MEM on, every device running, no pool region plugged.</summary>
    [MemberNotNull(nameof(View))]
    void Boot()
    {
        _plugged.Clear();
        _readOnly.Clear();
        Array.Clear(_pam);
        DirtyTracking = false;
        Viommu.Reset();
        VirtioMem.Reset();
        _seq = 0;
        for (int i = 0; i < Devices.Length; i++)
        {
            var dev = Devices[i];
            for (int b = 0; b < dev.Bars.Length; b++)
            {
                var bar = dev.Bars[b];
                bar.Address = Profile.BarSlot(i, b + 1, bar.Spec.Size);
                bar.MappedAt = bar.Address;
                bar.MappedSeq = ++_seq;
            }
            dev.CommandMem = true;
            dev.MmapsEnabled = true;
            dev.State = DeviceState.Running;
            dev.Plugged = true;
            if (dev.Hdm is { } hdm)
            {
                hdm.Boot();   // machine_done: QEMU commits HDM decoder 0
                hdm.MappedSeq = ++_seq;
            }
        }
        _systemView = _rendered = _bootSystemView ?? Render();
        View = Viommu.Enabled ? _iommuView : _systemView;   // a vIOMMU present from boot (emulated SMMUv3)
    }

    /// <summary>Back to the state the constructor left: a runner reuses one World for many
    /// executions instead of building regions, devices and host mappings each time.</summary>
    public void Reset() => Boot();

    /// <summary>A plugged device by its id: an op can name no other.</summary>
    public PciDevice Device(string id)
    {
        var dev = AnyDevice(id);
        if (!dev.Plugged) throw new ProgramException($"device {id} is unplugged (device-replug it first)");
        return dev;
    }

    PciDevice AnyDevice(string id)
    {
        foreach (var d in Devices)
            if (d.Id == id) return d;
        throw new ProgramException($"unknown device '{id}' (this profile has: {string.Join(", ", Devices.Select(d => d.Id))})");
    }

    /// <summary>Whether any device is plugged: while one is, its container and the listener on
    /// it live.</summary>
    public bool AnyDevicePlugged
    {
        get
        {
            foreach (var d in Devices)
                if (d.Plugged) return true;
            return false;
        }
    }

    /// <summary>The device a region belongs to (its BAR's owner), if any.</summary>
    public PciDevice? OwnerOf(MemoryRegion mr)
    {
        if (mr.Owner is null) return null;
        foreach (var d in Devices)
            if (d.Id == mr.Owner) return d;
        return null;
    }

    public MemoryRegion PoolRegion(string name)
    {
        foreach (var r in Pool)
            if (r.Name == name) return r;
        throw new ProgramException($"unknown region '{name}' (pluggable here: {string.Join(", ", Pool.Select(r => r.Name))})");
    }

    public bool IsPlugged(string region) => _plugged.ContainsKey(region);

    /// <summary>The RamDiscardManager of a region, if it has one (only virtio-mem's does).</summary>
    public VirtioMem? DiscardManagerOf(MemoryRegion mr) => Profile.HasVirtioMem && ReferenceEquals(mr, VirtioMem.Region) ? VirtioMem : null;

    public void Apply(Op op, IWorldEvents events)
    {
        switch (op)
        {
            case MapRegion m: Plug(m, events); break;
            case UnmapRegion u: Unplug(u, events); break;
            case SetCommandMem c: SetMem(Device(c.Device), c.On, events); break;
            case MoveBar mb: Move(mb, events); break;
            case SystemReset: ResetSystem(events); break;
            case DeviceReset r: ResetDevice(Device(r.Device), events); break;
            case DeviceFlr f: Flr(Device(f.Device), events); break;
            case HdmCommit c: CommitHdm(c, events); break;
            case HdmDecommit d: DecommitHdm(Device(d.Device), events); break;
            case DeviceInitDone i: InitDone(Device(i.Device), events); break;
            case DeviceUnplug u: UnplugDevice(Device(u.Device), events); break;
            case DeviceReplug r: ReplugDevice(r.Device, events); break;
            case AtsAccess a: Ats(a, events); break;
            case SetViommu v: SetViommuEnabled(v.On, events); break;
            case IotlbMap m: MapIotlb(m, events); break;
            case IotlbUnmap u: UnmapIotlb(u, events); break;
            case SetReadOnly r: FlipReadOnly(r, events); break;
            case SetPam p: ProgramPam(p, events); break;
            case BarSizing b: SizeBar(b, events); break;
            case SetDirtyTracking d: ChangeDirtyTracking(d.On, events); break;
            case VmemPlug p: PlugBlock(p.Block, events); break;
            case VmemUnplug u: UnplugBlock(u.Block, events); break;
            case IntxInterrupt i: SetMmaps(Device(i.Device), false, events); break;
            case IntxMmapTimer t: SetMmaps(Device(t.Device), true, events); break;
            case FailNth f: events.FailNth(f.N, f.Errno); break;
            default: throw new ProgramException($"op '{op.Name}' is not supported by this World");
        }
    }

    /// <summary>A memory change QEMU refuses while a migration runs (dirty tracking on): the
    /// program that asks for it is not one a guest can run. <paramref name="rule"/> says who refuses.</summary>
    void CheckNotMigrating(string op, string rule)
    {
        if (DirtyTracking) throw new ProgramException($"{op} during migration: {rule}");
    }

    /// <summary>A pool region comes and goes with its device (device_add, device_del), which
    /// QEMU refuses while a migration runs ("device_add not allowed while migrating",
    /// "device_del not allowed while migrating": softmmu/qdev-monitor.c, read in 7.2).</summary>
    const string DeviceHotplugRule = "QEMU refuses device_add and device_del while migrating";

    void Plug(MapRegion m, IWorldEvents events)
    {
        CheckNotMigrating($"map-region {m.Region}", DeviceHotplugRule);
        var mr = PoolRegion(m.Region);
        if (_plugged.ContainsKey(m.Region)) throw new ProgramException($"region {m.Region} is already mapped");
        CheckFits(m.Gpa, mr.Size, m.Region);
        if (m.Gpa % Profile.MemoryDeviceAlign != 0)
            throw new ProgramException($"region {m.Region} at 0x{m.Gpa:x}: profile {Profile.Name} places memory devices on 0x{Profile.MemoryDeviceAlign:x} boundaries");
        if (MemoryDeviceConflict(m.Region, m.Gpa) is { } other)
            throw new ProgramException($"region {m.Region} at 0x{m.Gpa:x}: address range conflicts with memory device id='{other}'");
        _plugged[m.Region] = (m.Gpa, ++_seq);
        Commit(events);
    }

    /// <summary>The plugged memory device (a RAM pool region, a pc-dimm) that a RAM pool region
    /// plugged at <paramref name="gpa"/> would overlap, or null: QEMU refuses the plug ("address
    /// range conflicts with memory device", hw/mem/memory-device.c, read in 7.2; seen in the
    /// lab's differential campaign, where the World had let two DIMMs share an address).</summary>
    public string? MemoryDeviceConflict(string region, ulong gpa)
    {
        var mr = PoolRegion(region);
        if (mr.Kind != RegionKind.Ram) return null;
        foreach (var other in Pool)
            if (other.Kind == RegionKind.Ram && _plugged.TryGetValue(other.Name, out var at)
                && (UInt128)gpa < at.Gpa + other.Size && (UInt128)at.Gpa < gpa + mr.Size)
                return other.Name;
        return null;
    }

    void Unplug(UnmapRegion u, IWorldEvents events)
    {
        CheckNotMigrating($"unmap-region {u.Region}", DeviceHotplugRule);
        PoolRegion(u.Region);
        if (!_plugged.Remove(u.Region)) throw new ProgramException($"region {u.Region} is not mapped");
        _readOnly.Remove(u.Region);
        Commit(events);
    }

    /// <summary>A COMMAND.MEM write: pci_update_mappings visits the BARs in order, each change
    /// its own transaction (seen on QEMU 7.2: BAR0's region_del, then BAR2's).</summary>
    void SetMem(PciDevice dev, bool on, IWorldEvents events)
    {
        dev.CommandMem = on;
        foreach (var bar in dev.Bars) UpdateMapping(dev, bar, events);
    }

    /// <summary>pci_update_mappings for one BAR: when the register's placement differs from
    /// where the BAR is mapped, memory_region_del_subregion and then (unless UNMAPPED)
    /// memory_region_add_subregion_overlap, two transactions.</summary>
    void UpdateMapping(PciDevice dev, PciBar bar, IWorldEvents events)
    {
        var target = dev.RegisterPlacement(bar);
        if (target == bar.MappedAt) return;
        if (bar.MappedAt is not null)
        {
            bar.MappedAt = null;
            Commit(events);
        }
        if (target is not { } at) return;
        bar.MappedAt = at;
        bar.MappedSeq = ++_seq;
        Commit(events);
    }

    void Move(MoveBar mb, IWorldEvents events)
    {
        var dev = Device(mb.Device);
        var bar = dev.Bar(mb.Bar);
        if (BarPlacementProblem(bar.Spec, mb.Gpa) is { } problem) throw new ProgramException($"{mb.Device} BAR{mb.Bar}: {problem}");
        WriteBar(dev, bar, mb.Gpa, events);
    }

    /// <summary>Why a BAR cannot be placed at <paramref name="gpa"/> by a BAR write, or null
    /// when it can: the address is a non-zero multiple of the size, the BAR fits the address
    /// space (and a 32-bit BAR its register).</summary>
    public string? BarPlacementProblem(BarSpec bar, ulong gpa)
    {
        ulong size = bar.Size;
        if (gpa == 0 || gpa % size != 0) return $"the BAR is 0x{size:x} bytes: its address must be a non-zero multiple of that, not 0x{gpa:x}";
        if ((UInt128)gpa + size > (UInt128)ulong.MaxValue + 1) return $"at 0x{gpa:x} it would run past the end of the address space";
        if (!bar.Is64 && gpa + size - 1 > uint.MaxValue) return $"a 32-bit BAR: 0x{gpa:x} does not fit its register";
        return null;
    }

    void WriteBar(PciDevice dev, PciBar bar, ulong value, IWorldEvents events)
    {
        bar.Address = value;
        UpdateMapping(dev, bar, events);
    }

    /// <summary>The guest sizes a BAR with MEM still enabled, one dword at a time, as firmware
    /// and OSes do. A 64-bit BAR: all-ones to the low dword (the BAR decodes at a transient
    /// address in the same 4 GiB), to the high dword (past HWADDR_MAX: unmapped), then the old
    /// high and low dwords back. A 32-bit BAR: all-ones (unmapped: it would end at 4 GiB - 1),
    /// then the old value back. Every write that moves the BAR is a del + add.</summary>
    void SizeBar(BarSizing bs, IWorldEvents events)
    {
        var dev = Device(bs.Device);
        var bar = dev.Bar(bs.Bar);
        if (!dev.BarDecodes(bar)) throw new ProgramException($"{bs.Device} BAR{bs.Bar} is not decoding: sizing it moves nothing (this op sizes with MEM enabled)");
        ulong original = bar.Address, sizeMask = ~(bar.Spec.Size - 1);
        ulong lowSized = (original & 0xFFFF_FFFF_0000_0000UL) | (0xFFFF_FFFFUL & sizeMask);
        WriteBar(dev, bar, lowSized, events);
        if (bar.Spec.Is64)
        {
            WriteBar(dev, bar, sizeMask, events);   // all-ones: ends at HWADDR_MAX, so unmapped
            WriteBar(dev, bar, lowSized, events);
        }
        WriteBar(dev, bar, original, events);
    }

    /// <summary>Machine reset: the reset reaches every device, then PCI core's hold phase
    /// clears COMMAND and the BAR registers (pci_do_device_reset), so BAR sections go away
    /// while the devices are in reset; afterwards devices initialize.</summary>
    void ResetSystem(IWorldEvents events)
    {
        // An unplugged device is not in the machine: the reset does not reach it (it is left
        // as its unplug left it: reset, MEM off, BARs unprogrammed).
        foreach (var dev in Devices) if (dev.Plugged) SetMmaps(dev, true, events);   // each device's pre_reset disables INTx
        if (_readOnly.Count > 0)
        {
            _readOnly.Clear();   // the chipset's PAM/SMRAM registers reset: writable again
            Commit(events);
        }
        foreach (var dev in Devices) if (dev.Plugged) ChangeState(dev, DeviceState.Resetting, events);
        foreach (var dev in Devices) RevokeHdm(dev, events);
        foreach (var dev in Devices)
        {
            SetMem(dev, false, events);
            foreach (var bar in dev.Bars) bar.Address = 0;
        }
        foreach (var dev in Devices) if (dev.Plugged) ChangeState(dev, DeviceState.Initializing, events);
        foreach (var dev in Devices) if (dev.Plugged) RescanHdm(dev, events);
    }

    /// <summary>Hot-unplug, as QEMU 7.2 does it once the guest ejects the slot (read in 7.2:
    /// pci_qdev_unrealize, vfio_exitfn, vfio_instance_finalize): pci_unregister_io_regions
    /// takes each mapped BAR out of the address space, BAR by BAR in index order, each its own
    /// transaction (memory_region_del_subregion), before the device's own teardown; then the
    /// device leaves its container, whose listener is unregistered when it was the last
    /// (<see cref="IWorldEvents.DeviceHotplug"/>). A CXL device's mapped DPA goes with it, after
    /// the BARs: where NVIDIA's tree takes it down on unplug is not known (nvidia-tree.md has no
    /// source for it). QEMU refuses device_del while migrating.</summary>
    void UnplugDevice(PciDevice dev, IWorldEvents events)
    {
        CheckNotMigrating($"device-unplug {dev.Id}", DeviceHotplugRule);
        SetMem(dev, false, events);   // pci_update_mappings' own walk: each mapped BAR out, one transaction each
        if (dev.Hdm is { } hdm)
        {
            bool mapped = hdm.MappedAt is not null;
            hdm.Decommit();
            if (mapped) Commit(events);
        }
        // What a device_add of the same device finds: a device just reset.
        foreach (var bar in dev.Bars) bar.Address = 0;
        dev.MmapsEnabled = true;
        dev.State = DeviceState.Running;
        dev.Plugged = false;
        events.DeviceHotplug(dev, plugged: false);
    }

    /// <summary>Hot-plug of the unplugged device (device_add): it realizes as a reset device
    /// with nothing in the address space (no firmware runs for a hot-added device; the guest
    /// programs its BARs and COMMAND.MEM), and joins a container, a new one when none is left.
    /// A CXL device's HDM decoder stays uncommitted (machine_done, which commits it at boot, does
    /// not run again). QEMU refuses device_add while migrating.</summary>
    void ReplugDevice(string id, IWorldEvents events)
    {
        var dev = AnyDevice(id);
        if (dev.Plugged) throw new ProgramException($"device-replug {id}: the device is plugged");
        CheckNotMigrating($"device-replug {id}", DeviceHotplugRule);
        dev.Plugged = true;
        events.DeviceHotplug(dev, plugged: true);
    }

    /// <summary>vfio_pci_reset: pre_reset clears COMMAND.MEM through a config write while the
    /// device still runs; then the device resets and initializes. QEMU's emulated BAR
    /// registers keep their values (post_reset only zeroes the kernel's copy).</summary>
    void ResetDevice(PciDevice dev, IWorldEvents events)
    {
        SetMmaps(dev, true, events);   // pre_reset disables INTx: vfio_intx_disable re-enables the mmaps
        SetMem(dev, false, events);
        ResetAndInitialize(dev, events);
    }

    /// <summary>A reset the guest starts through config space (FLR, CXL reset): the kernel does
    /// it and restores config space, so QEMU runs no pre_reset and its BARs stay.</summary>
    void Flr(PciDevice dev, IWorldEvents events) => ResetAndInitialize(dev, events);

    /// <summary>The device resets (a CXL device's DPA mapping revoked meanwhile), then
    /// initializes (its decoder rescanned and the DPA mapped again).</summary>
    void ResetAndInitialize(PciDevice dev, IWorldEvents events)
    {
        ChangeState(dev, DeviceState.Resetting, events);
        RevokeHdm(dev, events);
        ChangeState(dev, DeviceState.Initializing, events);
        RescanHdm(dev, events);
    }

    /// <summary>The kernel revokes the DPA mapping as a reset begins; the VMM drops the DPA
    /// from guest memory (see <see cref="HdmDecoder"/> for what is assumed here).</summary>
    void RevokeHdm(PciDevice dev, IWorldEvents events)
    {
        if (dev.Hdm is not { MappedAt: not null } hdm) return;
        hdm.Revoke();
        Commit(events);
    }

    /// <summary>After the reset the VMM rescans the decoder: committed again at the firmware
    /// base, with no guest commit, so the DPA is mapped there.</summary>
    void RescanHdm(PciDevice dev, IWorldEvents events)
    {
        if (dev.Hdm is not { } hdm) return;
        hdm.Rescan();
        hdm.MappedSeq = ++_seq;
        Commit(events);
    }

    void CommitHdm(HdmCommit c, IWorldEvents events)
    {
        var hdm = HdmOf(Device(c.Device));
        if (hdm.CommitProblem(c.Gpa) is { } problem) throw new ProgramException($"hdm-commit on {c.Device}: {problem}");
        hdm.Commit(c.Gpa);
        hdm.MappedSeq = ++_seq;
        Commit(events);
    }

    void DecommitHdm(PciDevice dev, IWorldEvents events)
    {
        var hdm = HdmOf(dev);
        if (hdm.CommittedBase is null) throw new ProgramException($"hdm-decommit on {dev.Id}: HDM decoder 0 is not committed");
        hdm.Decommit();
        Commit(events);
    }

    static HdmDecoder HdmOf(PciDevice dev) =>
        dev.Hdm ?? throw new ProgramException($"device {dev.Id} is not a CXL Type-2 device: it has no HDM decoder");

    void InitDone(PciDevice dev, IWorldEvents events)
    {
        if (dev.State != DeviceState.Initializing)
            throw new ProgramException($"device {dev.Id} is {dev.State.Name()}, not initializing");
        ChangeState(dev, DeviceState.Running, events);
    }

    void Ats(AtsAccess a, IWorldEvents events)
    {
        var dev = Device(a.Device);
        if (!dev.Spec.Ats) throw new ProgramException($"device {dev.Id} has no ATS capability");
        events.AtsAccess(dev, a.Gpa);
    }

    /// <summary>A chipset attribute flip (PAM, SMRAM): the plugged region's placement turns
    /// read-only or writable again. An attribute change is a different FlatRange: region_del
    /// and region_add of the same range in one transaction.</summary>
    void FlipReadOnly(SetReadOnly r, IWorldEvents events)
    {
        var mr = PoolRegion(r.Region);
        if (!_plugged.ContainsKey(r.Region)) throw new ProgramException($"region {r.Region} is not mapped");
        if (mr.ReadOnly) throw new ProgramException($"region {r.Region} is a ROM: always read-only");
        if (r.On ? !_readOnly.Add(r.Region) : !_readOnly.Remove(r.Region)) return;
        Commit(events);
    }

    /// <summary>A PAM segment's mode (0-3).</summary>
    public int PamMode(int segment) => _pam[segment];

    /// <summary>Where a PAM segment sits: [start, start + size).</summary>
    public static (ulong Start, ulong Size) PamRange(int segment) =>
        segment == 0 ? (0xf_0000UL, 0x1_0000UL) : (0xc_0000UL + (ulong)(segment - 1) * 0x4000UL, 0x4000UL);

    /// <summary>The MCH's PAM register write (pam_update): each segment is four aliases at
    /// priority 1 over the legacy window, one enabled. Mode 0 shows the PCI address space there
    /// (q35's pc.rom and isa-bios live in it: the profile's ROMs), 1 a read-only alias of guest
    /// RAM at the same offset, 2 and 3 a writable one (7.2 aliases RAM for the write-only mode
    /// too). The RAM aliases show the RAM's own pages, so a writable segment merges with the RAM
    /// beside it into one FlatRange, as flatview_simplify merges them. A machine reset leaves
    /// the registers as they are (mch_reset and pci_do_device_reset do not touch them in 7.2).</summary>
    void ProgramPam(SetPam p, IWorldEvents events)
    {
        if (!Profile.ChipsetPam) throw new ProgramException($"pam: profile {Profile.Name} has no chipset PAM (q35 only)");
        if (p.Segment is < 0 or >= PamSegments) throw new ProgramException($"pam: segment {p.Segment} is not 0-{PamSegments - 1}");
        if (p.Mode is < 0 or > 3) throw new ProgramException($"pam: mode {p.Mode} is not 0-3");
        if (_pam[p.Segment] == p.Mode) return;
        _pam[p.Segment] = (byte)p.Mode;
        Commit(events);
    }

    /// <summary>virtio-mem plugs a block: each listener is asked to populate it; if one fails
    /// the ones before are told to discard it and the plug is refused (the block stays
    /// unplugged, the guest sees the request fail).</summary>
    void PlugBlock(int block, IWorldEvents events)
    {
        CheckBlock(block);
        CheckNotMigrating("vmem-plug", VirtioMemBusyRule);
        // virtio-mem answers a plug of a plugged block with VIRTIO_MEM_RESP_ERROR and changes
        // nothing. Not an illegal program: whether a block is plugged can depend on the listener
        // (a populate that failed refused the plug), which the decoder's World cannot know.
        if (VirtioMem.IsPopulated(block)) return;
        VirtioMem.SetPopulated(block, true);
        if (!events.RamPopulate(VirtioMem, (ulong)block * VirtioMem.BlockSize, VirtioMem.BlockSize)) VirtioMem.SetPopulated(block, false);
    }

    void ChangeDirtyTracking(bool on, IWorldEvents events)
    {
        if (DirtyTracking == on) return;
        DirtyTracking = on;
        events.DirtyTracking(on);
    }

    /// <summary>While a migration runs virtio-mem answers plug and unplug requests with
    /// VIRTIO_MEM_RESP_BUSY and changes nothing (virtio_mem_is_busy in hw/virtio/virtio-mem.c,
    /// read in 7.2: unplugged blocks must stay out of the migration stream, and a block plugged
    /// mid-migration could differ between source and destination).</summary>
    const string VirtioMemBusyRule = "virtio-mem refuses plug and unplug requests while migrating";

    /// <summary>virtio-mem unplugs a block: every listener is told to discard it first.</summary>
    void UnplugBlock(int block, IWorldEvents events)
    {
        CheckBlock(block);
        CheckNotMigrating("vmem-unplug", VirtioMemBusyRule);
        if (!VirtioMem.IsPopulated(block)) return;   // VIRTIO_MEM_RESP_ERROR, as for a plug above
        VirtioMem.SetPopulated(block, false);
        events.RamDiscard(VirtioMem, (ulong)block * VirtioMem.BlockSize, VirtioMem.BlockSize);
    }

    void CheckBlock(int block)
    {
        if (!Profile.HasVirtioMem) throw new ProgramException($"profile {Profile.Name} has no virtio-mem device");
        if (block < 0 || block >= VirtioMem.Blocks) throw new ProgramException($"vmem0 has blocks 0..{VirtioMem.Blocks - 1}, not {block}");
    }

    /// <summary>vfio_mmap_set_enabled: every BAR mmap of the device on or off in one
    /// transaction (memory_region_set_enabled on each mmaps[] subregion).</summary>
    void SetMmaps(PciDevice dev, bool enabled, IWorldEvents events)
    {
        if (dev.MmapsEnabled == enabled) return;
        dev.MmapsEnabled = enabled;
        Commit(events);
    }

    void SetViommuEnabled(bool on, IWorldEvents events)
    {
        if (Viommu.Enabled == on) return;
        Viommu.Enabled = on;
        Commit(events);
    }

    void MapIotlb(IotlbMap m, IWorldEvents events)
    {
        if (!Viommu.Enabled) throw new ProgramException("iotlb-map with the vIOMMU disabled (add `viommu: {on: true}` first)");
        ulong page = Profile.IommuPageSize;
        if (m.Size == 0 || m.Iova % page != 0 || m.Size % page != 0 || m.Gpa % page != 0)
            throw new ProgramException($"iotlb-map iova 0x{m.Iova:x} gpa 0x{m.Gpa:x} size 0x{m.Size:x}: all must be non-zero multiples of the IOMMU page (0x{page:x})");
        if ((UInt128)m.Iova + m.Size > Viommu.InputRange)
            throw new ProgramException($"iotlb-map [0x{m.Iova:x}, +0x{m.Size:x}) is outside the vIOMMU's 48-bit input range");
        if (Viommu.Overlaps(m.Iova, m.Size)) throw new ProgramException($"iotlb-map [0x{m.Iova:x}, +0x{m.Size:x}) overlaps a live IOTLB entry");
        Viommu.Add(new IotlbEntry(m.Iova, m.Size, m.Gpa, m.Writable));
        events.Iotlb(new IotlbEvent(true, m.Iova, m.Size, m.Gpa, m.Writable));
    }

    void UnmapIotlb(IotlbUnmap u, IWorldEvents events)
    {
        if (!Viommu.Remove(u.Iova, out var entry)) throw new ProgramException($"iotlb-unmap 0x{u.Iova:x}: no IOTLB entry starts there");
        events.Iotlb(new IotlbEvent(false, entry!.Iova, entry.Size, entry.Gpa, entry.Writable));
    }

    static void ChangeState(PciDevice dev, DeviceState state, IWorldEvents events)
    {
        dev.State = state;
        events.DeviceStateChanged(dev);
    }

    static void CheckFits(ulong gpa, UInt128 size, string what)
    {
        if ((UInt128)gpa + size > (UInt128)ulong.MaxValue + 1)
            throw new ProgramException($"{what} at 0x{gpa:x} would run past the end of the address space");
    }

    void Commit(IWorldEvents events)
    {
        _systemView = null;
        var next = Viommu.Enabled ? _iommuView : SystemView;
        if (ReferenceEquals(next, View)) return;
        var before = View;
        View = next;
        events.Transaction(before, next);
    }

    /// <summary>Where a pc machine's chipset shows the PCI address space over RAM: the SMRAM
    /// window (open, as after reset) and the PAM window, whose segments in mode 0 show it.</summary>
    const ulong LegacyPciWindowStart = 0xa_0000UL, LegacyPciWindowEnd = 0x10_0000UL;

    /// <summary>The root's children in render order: BARs and CXL device memory (priority 1)
    /// above RAM, pool regions and CXL windows (priority 0); among equals, the most recently added renders first. A BAR's
    /// leaves come in its own order (overlay, mmap, trapped region). On a pc machine
    /// (<see cref="Profile.PcPciLayer"/>) in two layers: system memory first (RAM outside the
    /// legacy window, DIMMs, the platform's own MMIO), then the PCI address space (BARs, the
    /// ROMs), then RAM again, which shows in the legacy window where neither PAM nor the PCI
    /// space has anything. The current view itself when nothing changed, so a no-op change
    /// allocates nothing.</summary>
    FlatView Render()
    {
        // Scratch lists reused across renders: a World renders after every op of every execution.
        var children = _renderChildren;
        children.Clear();
        bool layered = Profile.PcPciLayer;
        if (!layered) children.Add((0, 0, null, null, Ram, Profile.RamBase, false));
        if (Profile.HasVirtioMem) children.Add((0, 0, null, null, VirtioMem.Region, VirtioMem.Gpa, false));
        foreach (var (mr, gpa, inPci) in _platform) children.Add((1, 0, null, null, mr, gpa, inPci));
        if (_plugged.Count > 0)
            foreach (var mr in Pool)
                if (_plugged.TryGetValue(mr.Name, out var p)) children.Add((0, p.Seq, null, null, mr, p.Gpa, false));
        foreach (var dev in Devices)
        {
            foreach (var bar in dev.Bars)
                if (bar.MappedAt is not null) children.Add((1, bar.MappedSeq, bar, dev, null, 0, true));
            // The CXL window is platform MMIO beside RAM; the DPA is mapped over it.
            if (dev.Hdm is not { } hdm) continue;
            children.Add((0, 0, null, null, hdm.Window, hdm.Spec.WindowBase, false));
            if (hdm.MappedAt is { } at) children.Add((1, hdm.MappedSeq, null, null, hdm.Dpa, at, false));
        }
        // Higher priority first, then the most recent: an insertion sort of indices (the list
        // is a handful; moving indices, not the children, copies no references).
        if (_renderOrder.Length < children.Count) _renderOrder = new int[children.Count * 2];
        var span = CollectionsMarshal.AsSpan(children);
        var order = _renderOrder.AsSpan(0, span.Length);
        for (int i = 0; i < span.Length; i++)
        {
            ref readonly var x = ref span[i];
            int j = i - 1;
            while (j >= 0 && (span[order[j]].Priority < x.Priority || (span[order[j]].Priority == x.Priority && span[order[j]].Seq < x.Seq)))
            {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = i;
        }
        var leaves = _renderLeaves;
        leaves.Clear();
        // PAM's RAM aliases sit above the legacy ROMs (the PCI side they replace).
        for (int s = 0; Profile.ChipsetPam && s < PamSegments; s++)
        {
            if (_pam[s] == 0) continue;
            var (start, size) = PamRange(s);
            leaves.Add(new Placement(Ram, start, ReadOnly: _pam[s] == 1, Offset: start - Profile.RamBase, Size: size));
        }
        if (!layered)
        {
            AddLeaves(leaves, pci: null);
            return _views.Paint(leaves, _rendered);
        }
        AddLeaves(leaves, pci: false);
        AddRamOutside(leaves, LegacyPciWindowStart, LegacyPciWindowEnd);
        AddLeaves(leaves, pci: true);
        leaves.Add(new Placement(Ram, Profile.RamBase));
        return _views.Paint(leaves, _rendered);
    }

    /// <summary>The sorted children's leaves in their order: all of them, or those of one layer.</summary>
    void AddLeaves(List<Placement> leaves, bool? pci)
    {
        var children = CollectionsMarshal.AsSpan(_renderChildren);
        foreach (int i in _renderOrder.AsSpan(0, children.Length))
        {
            ref readonly var c = ref children[i];
            if (pci is { } layer && c.InPci != layer) continue;
            if (c.Bar is { } bar) bar.AddLeaves(leaves, c.Device!.MmapsEnabled);
            else leaves.Add(new Placement(c.Mr!, c.Gpa, _readOnly.Count > 0 && _readOnly.Contains(c.Mr!.Name)));
        }
    }

    /// <summary>Guest RAM as system memory holds it, less [start, end): one or two windows of it.</summary>
    void AddRamOutside(List<Placement> leaves, ulong start, ulong end)
    {
        ulong ramBase = Profile.RamBase, ramEnd = ramBase + Profile.RamSize;
        if (start > ramBase) leaves.Add(new Placement(Ram, ramBase, Offset: 0, Size: Math.Min(start, ramEnd) - ramBase));
        if (end < ramEnd) leaves.Add(new Placement(Ram, Math.Max(end, ramBase), Offset: Math.Max(end, ramBase) - ramBase, Size: ramEnd - Math.Max(end, ramBase)));
    }
}

using System.Collections.Immutable;
using VfioFuzz.Machine;

namespace VfioFuzz.Programs;

/// <summary>
/// The total decoder: any byte string is a legal program. Each op is an opcode byte and up to
/// three argument bytes (missing bytes read as zero); handles are chosen modulo the live set
/// (a plugged region for unmap, an initializing device for init-done, a live section for an
/// ATS access), tracked by running the ops on a World of the profile as they are decoded, as
/// syzkaller resolves resources. An op with no legal handle is dropped.
/// </summary>
public static class ProgramDecoder
{
    public const int MaxOps = 64;
    /// <summary>Bytes per op: the opcode and three argument bytes.</summary>
    public const int OpBytes = 4;

    /// <summary>How many ops the opcode byte chooses among (its value modulo this).</summary>
    public const int OpCodes = 22;

    /// <summary>The longest input that still matters: bytes past it are never decoded.</summary>
    public const int MaxInputBytes = MaxOps * OpBytes;

    public static FuzzProgram Decode(ReadOnlySpan<byte> data, Profile profile)
    {
        var world = new World(profile);
        var ops = ImmutableArray.CreateBuilder<Op>();
        int at = 0;
        while (ops.Count < MaxOps && DecodeNext(world, data, ref at) is { } op)
        {
            world.Apply(op, IgnoreWorldEvents.Instance);
            ops.Add(op);
        }
        return new FuzzProgram(ops.ToImmutable());
    }

    /// <summary>The next op with a legal handle on <paramref name="world"/> as it is now,
    /// starting at byte <paramref name="at"/> (moved past it), or null at the end of the data.
    /// The caller applies the op before asking for the next: the runner decodes this way on
    /// the World it runs, so an execution builds one World, not two.</summary>
    public static Op? DecodeNext(World world, ReadOnlySpan<byte> data, ref int at)
    {
        for (; at < data.Length; at += OpBytes)
        {
            var op = DecodeOp(world, At(data, at), At(data, at + 1), At(data, at + 2), At(data, at + 3));
            if (op is null) continue;
            at += OpBytes;
            return op;
        }
        return null;
    }

    /// <summary>The device the byte names, when it is plugged: an op can name no other.</summary>
    static PciDevice? Plugged(ImmutableArray<PciDevice> devices, byte a)
    {
        var dev = devices[a % devices.Length];
        return dev.Plugged ? dev : null;
    }

    static byte At(ReadOnlySpan<byte> data, int i) => i < data.Length ? data[i] : (byte)0;

    static Op? DecodeOp(World world, byte code, byte a, byte b, byte c)
    {
        var devices = world.Devices;
        switch (code % OpCodes)
        {
            case 0:
            {
                var free = OpChoices.Pick(world.Pool, world, OpChoices.Free, a);
                ulong gpa = OpChoices.HotplugGpa(b);
                return free is null || world.DirtyTracking || gpa % world.Profile.MemoryDeviceAlign != 0
                    || world.MemoryDeviceConflict(free.Name, gpa) is not null ? null : new MapRegion(free.Name, gpa);
            }
            case 1:
            {
                var plugged = OpChoices.Pick(world.Pool, world, OpChoices.Plugged, a);
                return plugged is null || world.DirtyTracking ? null : new UnmapRegion(plugged.Name);
            }
            case 2:
                return Plugged(devices, a) is { } mem ? new SetCommandMem(mem.Id, (b & 1) != 0) : null;
            case 3:
            {
                // Bit 7 of the BAR byte: placed relative to a live section, else on the grid.
                if (Plugged(devices, a) is not { } dev) return null;
                var bar = dev.Bars[(b & 0x7f) % dev.Bars.Length];
                var gpa = (b & 0x80) != 0 ? OpChoices.BarOnSection(world, bar.Spec, c) : OpChoices.BarGpa(world, bar.Spec, c);
                return gpa is { } at ? new MoveBar(dev.Id, bar.Spec.Index, at) : null;
            }
            case 4:
                return new SystemReset();
            case 5:
                return Plugged(devices, a) is { } reset ? new DeviceReset(reset.Id) : null;
            case 6:
            {
                var waiting = OpChoices.Pick(world.Devices, world, OpChoices.Initializing, a);
                return waiting is null ? null : new DeviceInitDone(waiting.Id);
            }
            case 8:
                return new SetViommu((a & 1) != 0);
            case 9:
            {
                if (!world.Viommu.Enabled) return null;
                ulong page = world.Profile.IommuPageSize;
                var targets = world.SystemView.Sections;
                if (targets.Length == 0) return null;
                ulong gpa = OpChoices.IotlbGpa(targets[b % targets.Length], c, page);
                ulong? iova = OpChoices.IotlbRelative(a) ? OpChoices.IotlbIovaRelative(world, a, gpa) : OpChoices.IotlbIova(a);
                if (iova is not { } at || (UInt128)at + page > Viommu.InputRange || world.Viommu.Overlaps(at, page)) return null;
                return new IotlbMap(at, gpa, page, (a & 0x80) != 0);
            }
            case 15:
                return !world.DirtyTracking && OpChoices.VmemBlock(world, plugged: false, a) is { } unplugged ? new VmemPlug(unplugged) : null;
            case 16:
                return !world.DirtyTracking && OpChoices.VmemBlock(world, plugged: true, a) is { } used ? new VmemUnplug(used) : null;
            case 17:
                return new SetDirtyTracking((a & 1) != 0);
            case 18 when (c & 0xc0) == 0xc0:
            {
                // Hot-unplug of a plugged device, hot-plug of an unplugged one (QEMU refuses
                // both while migrating).
                var dev = devices[a % devices.Length];
                if (world.DirtyTracking) return null;
                return dev.Plugged ? new DeviceUnplug(dev.Id) : new DeviceReplug(dev.Id);
            }
            case 18:
                return Plugged(devices, a) is { } flr ? new DeviceFlr(flr.Id) : null;
            case 19:
            {
                var decommitted = OpChoices.Pick(devices, world, OpChoices.HdmDecommitted, a);
                return decommitted is null ? null : new HdmCommit(decommitted.Id, OpChoices.HdmGpa(decommitted.Hdm!.Spec, b));
            }
            case 20:
            {
                var committed = OpChoices.Pick(devices, world, OpChoices.HdmCommitted, a);
                return committed is null ? null : new HdmDecommit(committed.Id);
            }
            case 21:
                return new FailNth(1 + a % 4, FailNth.Injectable[b % FailNth.Injectable.Length]);
            case 14:
            {
                if (Plugged(devices, a) is not { } dev) return null;
                var bar = dev.Bars[b % dev.Bars.Length];
                return dev.BarDecodes(bar) ? new BarSizing(dev.Id, bar.Spec.Index) : null;
            }
            case 13 when world.Profile.ChipsetPam && (c & 1) != 0:
                return new SetPam(a % World.PamSegments, b % 4);
            case 13:
            {
                var writableRam = OpChoices.Pick(world.Pool, world, OpChoices.PluggedRam, a);
                return writableRam is null ? null : new SetReadOnly(writableRam.Name, (b & 1) != 0);
            }
            case 11:
                return Plugged(devices, a) is { } intx ? new IntxInterrupt(intx.Id) : null;
            case 12:
            {
                var masked = OpChoices.Pick(devices, world, OpChoices.MmapsDisabled, a);
                return masked is null ? null : new IntxMmapTimer(masked.Id);
            }
            case 10:
            {
                var entries = world.Viommu.Entries;
                return entries.Count == 0 ? null : new IotlbUnmap(entries[a % entries.Count].Iova);
            }
            default:
            {
                var ats = OpChoices.Pick(world.Devices, world, OpChoices.Ats, a);
                if (ats is null) return null;
                if (world.Viommu.Enabled)
                {
                    // Behind an enabled vIOMMU the device's addresses are IOVAs: one of a live
                    // IOTLB entry's pages.
                    var entries = world.Viommu.Entries;
                    if (entries.Count == 0) return null;
                    var e = entries[b % entries.Count];
                    ulong iommuPage = world.Profile.IommuPageSize;
                    return new AtsAccess(ats.Id, e.Iova + (c % Math.Max(1, e.Size / iommuPage)) * iommuPage);
                }
                var sections = world.View.Sections;
                if (sections.Length == 0) return null;
                var s = sections[b % sections.Length];
                ulong pages = Math.Max(1, (ulong)(s.Size / world.Profile.HostPageSize));
                ulong gpa = s.Gpa + (c % pages) * world.Profile.HostPageSize;
                return new AtsAccess(ats.Id, gpa);
            }
        }
    }
}

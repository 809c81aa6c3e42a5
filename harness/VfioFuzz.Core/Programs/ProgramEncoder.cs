using VfioFuzz.Machine;

namespace VfioFuzz.Programs;

/// <summary>
/// The inverse of <see cref="ProgramDecoder"/>: the bytes that decode to a program, so YAML
/// seeds (corpus/seeds) and reproducers can be handed to a byte-level engine. Not every
/// program has a byte form (a GPA off the decoder's grids, more than MaxOps ops, an op with
/// no legal handle at its step): then there is none, and the caller says which op.
/// </summary>
public static class ProgramEncoder
{
    /// <summary>The bytes, or null with the index of the first op that has no byte form.</summary>
    public static byte[]? Encode(FuzzProgram program, Profile profile, out int failedOp)
    {
        failedOp = -1;
        if (program.Ops.Length > ProgramDecoder.MaxOps) { failedOp = ProgramDecoder.MaxOps; return null; }
        var world = new World(profile);
        var bytes = new List<byte>(program.Ops.Length * 4);
        for (int i = 0; i < program.Ops.Length; i++)
        {
            var op = program.Ops[i];
            var encoded = EncodeOp(world, op);
            if (encoded is null) { failedOp = i; return null; }
            bytes.AddRange(encoded);
            // A program written for another profile (a seed with virtio-mem, on a machine
            // without one) may hold an op this World refuses: no byte form then either.
            try { world.Apply(op, IgnoreWorldEvents.Instance); }
            catch (ProgramException) { failedOp = i; return null; }
        }
        return bytes.ToArray();
    }

    static byte[]? EncodeOp(World world, Op op)
    {
        int Device(string id) => IndexOf(world.Devices, d => d.Id == id);
        switch (op)
        {
            case MapRegion m:
            {
                int a = OpChoices.ChoiceOf(world.Pool, world, OpChoices.Free, r => r.Name == m.Region);
                int b = Enumerable.Range(0, 256).FirstOrDefault(x => OpChoices.HotplugGpa((byte)x) == m.Gpa, -1);
                return Bytes(0, a, b);
            }
            case UnmapRegion u:
                return Bytes(1, OpChoices.ChoiceOf(world.Pool, world, OpChoices.Plugged, r => r.Name == u.Region));
            case SetCommandMem c:
                return Bytes(2, Device(c.Device), c.On ? 1 : 0);
            case MoveBar mb:
            {
                int a = Device(mb.Device);
                if (a < 0) return null;
                var dev = world.Devices[a];
                int b = IndexOf(dev.Bars, bar => bar.Spec.Index == mb.Bar);
                if (b < 0) return null;
                var spec = dev.Bars[b].Spec;
                int c = Enumerable.Range(0, 256).FirstOrDefault(x => OpChoices.BarGpa(world, spec, (byte)x) == mb.Gpa, -1);
                if (c >= 0) return Bytes(3, a, b, c);
                c = Enumerable.Range(0, 256).FirstOrDefault(x => OpChoices.BarOnSection(world, spec, (byte)x) == mb.Gpa, -1);
                return Bytes(3, a, b | 0x80, c);
            }
            case SystemReset:
                return Bytes(4);
            case DeviceReset r:
                return Bytes(5, Device(r.Device));
            case DeviceFlr f:
                return Bytes(18, Device(f.Device));
            case DeviceUnplug u:
                return Bytes(18, Device(u.Device), 0, 0xc0);
            case DeviceReplug r:
                return Bytes(18, Device(r.Device), 0, 0xc0);
            case HdmCommit c:
            {
                int a = OpChoices.ChoiceOf(world.Devices, world, OpChoices.HdmDecommitted, x => x.Id == c.Device);
                if (a < 0) return null;
                var spec = world.Device(c.Device).Hdm!.Spec;
                return Bytes(19, a, Enumerable.Range(0, 256).FirstOrDefault(x => OpChoices.HdmGpa(spec, (byte)x) == c.Gpa, -1));
            }
            case FailNth f:
                return f.N is >= 1 and <= 4 && Array.IndexOf(FailNth.Injectable, f.Errno) is >= 0 and var e ? Bytes(21, f.N - 1, e) : null;
            case HdmDecommit d:
                return Bytes(20, OpChoices.ChoiceOf(world.Devices, world, OpChoices.HdmCommitted, x => x.Id == d.Device));
            case DeviceInitDone d:
                return Bytes(6, OpChoices.ChoiceOf(world.Devices, world, OpChoices.Initializing, x => x.Id == d.Device));
            case SetDirtyTracking d:
                return Bytes(17, d.On ? 1 : 0);
            case VmemPlug p:
                return Bytes(15, OpChoices.VmemChoiceOf(world, plugged: false, p.Block));
            case VmemUnplug u:
                return Bytes(16, OpChoices.VmemChoiceOf(world, plugged: true, u.Block));
            case BarSizing bs:
            {
                int a = Device(bs.Device);
                return a < 0 ? null : Bytes(14, a, IndexOf(world.Devices[a].Bars, bar => bar.Spec.Index == bs.Bar));
            }
            case SetPam p:
                return Bytes(13, p.Segment, p.Mode, 1);
            case SetReadOnly r:
                return Bytes(13, OpChoices.ChoiceOf(world.Pool, world, OpChoices.PluggedRam, x => x.Name == r.Region), r.On ? 1 : 0);
            case IntxInterrupt i:
                return Bytes(11, Device(i.Device));
            case IntxMmapTimer t:
                return Bytes(12, OpChoices.ChoiceOf(world.Devices, world, OpChoices.MmapsDisabled, x => x.Id == t.Device));
            case SetViommu v:
                return Bytes(8, v.On ? 1 : 0);
            case IotlbMap m:
            {
                if (m.Size != world.Profile.IommuPageSize) return null;
                // The IOVA on the grid, else as the GPA itself, else right after a live entry.
                int a = Enumerable.Range(0, 64).FirstOrDefault(x => OpChoices.IotlbIova((byte)x) == m.Iova, -1);
                if (a < 0 && m.Iova == m.Gpa) a = 0x40;
                if (a < 0 && IndexOf(world.Viommu.Entries.ToArray(), e => e.End == m.Iova) is >= 0 and < 32 and var n) a = 0x40 | 1 | n << 1;
                if (a < 0) return null;
                var targets = world.SystemView.Sections;
                for (int b = 0; b < targets.Length && b < 256; b++)
                    for (int c = 0; c < 256; c++)
                        if (OpChoices.IotlbGpa(targets[b], (byte)c, m.Size) == m.Gpa) return Bytes(9, a | (m.Writable ? 0x80 : 0), b, c);
                return null;
            }
            case IotlbUnmap u:
                return Bytes(10, IndexOf(world.Viommu.Entries.ToArray(), e => e.Iova == u.Iova));
            case AtsAccess ats when world.Viommu.Enabled:
            {
                int a = OpChoices.ChoiceOf(world.Devices, world, OpChoices.Ats, x => x.Id == ats.Device);
                var entries = world.Viommu.Entries;
                int b = IndexOf(entries.ToArray(), e => ats.Gpa >= e.Iova && ats.Gpa < e.End);
                if (b < 0 || b > 255) return null;
                ulong page = world.Profile.IommuPageSize, offset = ats.Gpa - entries[b].Iova;
                return offset % page == 0 && offset / page < 256 ? Bytes(7, a, b, (int)(offset / page)) : null;
            }
            case AtsAccess ats:
            {
                int a = OpChoices.ChoiceOf(world.Devices, world, OpChoices.Ats, x => x.Id == ats.Device);
                var sections = world.View.Sections;
                int b = -1;
                for (int i = 0; i < sections.Length && i < 256; i++)
                    if (ats.Gpa >= sections[i].Gpa && ats.Gpa - sections[i].Gpa < sections[i].Size) { b = i; break; }
                if (b < 0) return null;
                ulong page = world.Profile.HostPageSize, offset = ats.Gpa - sections[b].Gpa;
                ulong pages = Math.Max(1, (ulong)(sections[b].Size / page));
                bool onGrid = offset % page == 0 && offset / page < Math.Min(pages, 256);
                return onGrid ? Bytes(7, a, b, (int)(offset / page)) : null;
            }
            default:
                return null;
        }
    }

    static byte[]? Bytes(int code, int a = 0, int b = 0, int c = 0) =>
        a < 0 || b < 0 || c < 0 ? null : [(byte)code, (byte)a, (byte)b, (byte)c];

    static int IndexOf<T>(IReadOnlyList<T> items, Func<T, bool> match)
    {
        for (int i = 0; i < items.Count; i++) if (match(items[i])) return i;
        return -1;
    }
}

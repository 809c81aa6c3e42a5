using VfioFuzz.Iommufd;
using VfioFuzz.Type1;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Traces;

/// <summary>Where a target stopped doing what the recording did: the listener event, the
/// recorded backend calls under it, and the target's.</summary>
public sealed record TraceDivergence(int Line, string Event, IReadOnlyList<string> Recorded, IReadOnlyList<string> Model);

/// <summary>
/// Holds a listener model to a recording: the recorded listener events (region add, skip,
/// del, with their ranges) are fed to the target one transaction each, and the target's
/// map/unmap calls are compared with the backend calls QEMU logged under the same event
/// (iova, size, read-only, file vs VA, and the VA or fd/start). The sections are rebuilt from
/// the trace: a region_add_ram whose VA lies in a vfio_region_mmap is a VFIO ram_device
/// (role cxl-dpa or nvlink-aperture when the region name says "dpa" or "nvlink", bar-mmap
/// otherwise; a dmabuf BAR when a vfio_region_dmabuf names the mmap's region), anything else
/// guest RAM (read-only when its map was); a SKIPPING line is a non-RAM section; a
/// no_dma_map or skip_dma_map line without an add is a ram_device section; a region_add
/// [iommu] is the vIOMMU's section, whose notifier then receives each vfio_iommu_map_notify
/// (a MAP's GPA recovered from the VA of the map QEMU made under it).
/// </summary>
public static class TraceConformance
{
    public static TraceDivergence? Compare(IReadOnlyList<TraceEvent> events, ListenerTarget target, ulong hostPageSize)
    {
        var host = new HostMemory();
        // A recording of the type1 container (QEMU 7.2 and the lab's shim lines) is answered as
        // one: the target's legacy container then makes the calls to compare.
        bool type1 = events.Any(e => e is Type1MapDma or Type1UnmapDma) && !events.Any(e => e is BackendMap or BackendMapFile or BackendUnmap);
        var answers = new RecordedAnswers();
        var mmaps = events.OfType<RegionMmap>().Where(m => m.Va != 0).ToArray();
        var dmabufs = events.OfType<RegionDmabuf>().ToArray();
        // The VFIO devices are the owners of the mmap'd regions (the name's first word).
        var devices = mmaps.GroupBy(m => Owner(m.Name)).Select(g => new PciDevice(new DeviceSpec(g.Key,
            g.Any(m => RoleOf(m.Name) == RegionRole.CxlDpa) ? DeviceKind.CxlType2 : g.Any(m => RoleOf(m.Name) == RegionRole.NvlinkAperture) ? DeviceKind.CoherentGpu : DeviceKind.Nic,
            Ats: false, []), hostPageSize)).ToArray();
        var viommu = new Viommu(ViommuKind.Shadowing);   // the recording shows its notifications
        var live = new List<Section>();
        // What an IOTLB entry's GPA translates to in system memory: memory the recording shows
        // only as the VA QEMU mapped (see Notify).
        var iotlbTargets = new Dictionary<ulong, Section>();
        target.Register(new ListenerEnvironment(type1 ? answers.AsType1 : answers, host, hostPageSize, devices, TraceLog.Disabled, viommu,
            gpa => iotlbTargets.TryGetValue(gpa, out var s) ? s : null));

        // QEMU commits a transaction as its region_dels, then its region_adds: a del after an
        // add starts the next one. Each transaction is fed as begin, its events, commit; calls the
        // target makes at commit count with the transaction's last event.
        bool inTransaction = false, added = false;
        for (int i = 0; i < events.Count; i++)
        {
            if (events[i] is IommuMapNotify notify)
            {
                if (Notify(i, notify) is { } diverged) return diverged;
                continue;
            }
            // A del of a section the recording never added (it starts mid-session) has nothing to compare.
            if (ListenerStep(events[i]) is not { } step || step.Section is not { } section) continue;
            var (description, add, _) = step;
            if (inTransaction && added && !add)
            {
                target.Commit();
                inTransaction = added = false;
            }
            if (!inTransaction)
            {
                target.Begin();
                inTransaction = true;
            }
            added |= add;
            var recorded = RecordedUnder(i, out int next);
            if (add) { target.RegionAdd(section); live.Add(section); }
            else { target.RegionDel(section); live.Remove(section); }
            if (!MoreInTransaction(next, add))
            {
                target.Commit();
                inTransaction = added = false;
            }
            if (Diverges(events[i].Line, description, recorded) is { } divergence) return divergence;
        }
        if (inTransaction) target.Commit();
        return null;

        // The backend calls QEMU made under the event at `at`: up to the next listener or notify
        // event (`next`); the answers the target gets are set up from them.
        List<TraceEvent> RecordedUnder(int at, out int next)
        {
            var recorded = new List<TraceEvent>();
            for (next = at + 1; next < events.Count && events[next] is not (RegionAddRam or RegionAddIommu or RegionSkip or RegionDel or RegionAddNoDmaMap or IommuMapNotify); next++)
                if (events[next] is BackendMap or BackendMapFile or BackendUnmap or Type1MapDma or Type1UnmapDma) recorded.Add(events[next]);
            answers.Expect(recorded);
            return recorded;
        }

        // The target's calls since the last RecordedUnder against the recorded ones.
        TraceDivergence? Diverges(int line, string description, List<TraceEvent> recorded) =>
            answers.Calls.SequenceEqual(recorded.Select(Describe)) ? null
                : new TraceDivergence(line, description, recorded.Select(r => $"line {r.Line}: {Describe(r)}").ToArray(), answers.Calls.ToArray());

        // A guest IOTLB notification, delivered to the notifiers as the vIOMMU does. The trace
        // names only the IOVA range, and the guest RAM behind it is not in the listener's view
        // (its address space is the IOMMU's): the memory a MAP points at is rebuilt from the map
        // QEMU made under it, as a RAM region at that VA (its GPA written as the VA). A MAP that
        // made no map call cannot say what it pointed at: the target sees a GPA with no memory.
        TraceDivergence? Notify(int at, IommuMapNotify n)
        {
            var recorded = RecordedUnder(at, out _);
            ulong size = n.Last - n.Start + 1;
            bool map = n.Op == "MAP";
            ulong gpa = ulong.MaxValue;
            bool writable = true;
            if (map && recorded.FirstOrDefault() is BackendMap or Type1MapDma)
            {
                (ulong va, writable) = recorded[0] is BackendMap m ? (m.Va, !m.ReadOnly) : (((Type1MapDma)recorded[0]).Va, true);
                gpa = va;
                // Guest RAM, or a device's ram_device when the VA lies in a vfio_region_mmap.
                if (!iotlbTargets.ContainsKey(gpa)) iotlbTargets[gpa] = NewSection(gpa, size, va, null, n.Line);
            }
            if (map) viommu.Add(new IotlbEntry(n.Start, size, gpa, writable));
            else viommu.Remove(n.Start, out _);
            foreach (var notifier in viommu.Notifiers.Where(x => x.Covers(n.Start)).ToArray())
                notifier.Notify(new IotlbEvent(map, n.Start, size, gpa, writable));
            return Diverges(n.Line, $"iommu {n.Op} @ 0x{n.Start:x} - 0x{n.Last:x}", recorded);
        }

        // Whether the transaction goes on after an event: the next listener event is an add, or
        // a del while this transaction has only had dels.
        // (Classified without building sections: building one adopts host memory.)
        bool MoreInTransaction(int from, bool add)
        {
            for (int j = from; j < events.Count; j++)
                switch (events[j])
                {
                    case RegionAddRam or RegionAddIommu or RegionSkip { Add: true } or RegionAddNoDmaMap: return true;
                    case RegionDel or RegionSkip { Add: false }: return !add;
                }
            return false;
        }

        (string Description, bool Add, Section? Section)? ListenerStep(TraceEvent e) => e switch
        {
            RegionAddRam a => ($"region_add [ram] 0x{a.Start:x} - 0x{a.Last:x}", true, NewSection(a.Start, a.Last - a.Start + 1, a.Va, null, a.Line)),
            RegionSkip { Add: true } k => ($"SKIPPING region_add 0x{k.Start:x} - 0x{k.Last:x}", true,
                new Section(new MemoryRegion($"mmio@0x{k.Start:x}", RegionKind.Mmio, k.Last - k.Start + 1, RegionRole.MsixTable, null), k.Start, k.Last - k.Start + 1, 0, false)),
            RegionAddNoDmaMap n when !live.Any(s => s.Gpa == n.Iova) => ($"no_dma_map \"{n.Name}\"", true, NewSection(n.Iova, n.Size, 0, n.Name, n.Line)),
            RegionAddIommu a => ($"region_add [iommu] 0x{a.Start:x} - 0x{a.Last:x}", true, new Section(viommu.Region, a.Start, a.Last - a.Start + 1, a.Start, false)),
            RegionDel d => ($"region_del 0x{d.Start:x} - 0x{d.Last:x}", false, Find(d.Start, d.Last, ram: true) ?? FindIommu(d.Start, d.Last)),
            RegionSkip { Add: false } k => ($"SKIPPING region_del 0x{k.Start:x} - 0x{k.Last:x}", false, Find(k.Start, k.Last, ram: false)),
            _ => null,
        };

        Section? FindIommu(ulong start, ulong last) =>
            live.FirstOrDefault(s => s.Mr.IsIommu && s.Gpa <= start && s.End - 1 >= last) is { Mr: not null } hit ? hit : null;

        Section? Find(ulong start, ulong last, bool ram)
        {
            foreach (var s in live)
                if (s.Mr.IsRam == ram && s.Gpa <= start && s.End - 1 >= last) return s;
            return null;
        }

        Section NewSection(ulong gpa, ulong size, ulong va, string? name, int line)
        {
            var mmap = mmaps.FirstOrDefault(m => va >= m.Va && va <= m.Va + (m.End - m.Offset));
            name ??= mmap?.Name;
            bool readOnly = events.OfType<BackendMap>().FirstOrDefault(m => m.Line > line && m.Iova == gpa)?.ReadOnly ?? false;
            MemoryRegion mr;
            if (name is not null)
            {
                mr = new MemoryRegion(name, RegionKind.RamDevice, size, RoleOf(name), Owner(name));
                var buf = dmabufs.FirstOrDefault(d => name.StartsWith(d.Name, StringComparison.Ordinal));
                ulong offset = mmap is null ? 0 : mmap.Offset + (va - mmap.Va);
                host.Adopt(mr, va, buf?.Fd ?? -1, buf is null ? 0 : buf.Offset + offset);
            }
            else
            {
                mr = new MemoryRegion($"ram@0x{gpa:x}", readOnly ? RegionKind.Rom : RegionKind.Ram, size, readOnly ? RegionRole.Rom : RegionRole.GuestRam, null);
                host.Adopt(mr, va);
            }
            return new Section(mr, gpa, size, 0, readOnly);
        }
    }

    static string Owner(string regionName) => regionName.Split(' ')[0];

    static RegionRole RoleOf(string regionName)
    {
        string lower = regionName.ToLowerInvariant();
        return lower.Contains("dpa") ? RegionRole.CxlDpa : lower.Contains("nvlink") ? RegionRole.NvlinkAperture : RegionRole.BarMmap;
    }

    static string Describe(TraceEvent e) => e switch
    {
        BackendMap m => $"map iova=0x{m.Iova:x} size=0x{m.Size:x} addr=0x{m.Va:x} readonly={(m.ReadOnly ? 1 : 0)}",
        BackendMapFile m => $"map_file iova=0x{m.Iova:x} size=0x{m.Size:x} fd={m.Fd} start={m.Start} readonly={(m.ReadOnly ? 1 : 0)}",
        BackendUnmap u => $"unmap iova=0x{u.Iova:x} size=0x{u.Size:x}",
        Type1MapDma m => $"map_dma iova=0x{m.Iova:x} size=0x{m.Size:x} vaddr=0x{m.Va:x}",
        Type1UnmapDma u => $"unmap_dma iova=0x{u.Iova:x} size=0x{u.Size:x}",
        _ => e.ToString(),
    };

    /// <summary>The IOAS the target talks to during a comparison: it notes each call in the
    /// recording's terms and answers with what the recording answered for the same call
    /// (ENOENT for unmap_dma_non_exist, EFAULT for a failed map), Ok otherwise.</summary>
    sealed class RecordedAnswers : IIoas
    {
        IReadOnlyList<TraceEvent> _recorded = [];

        public List<string> Calls { get; } = [];

        public ulong IovaAlignment => 0x1000;

        public void Expect(IReadOnlyList<TraceEvent> recorded)
        {
            _recorded = recorded;
            Calls.Clear();
        }

        public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags) =>
            Answer(new BackendMap(0, 0, iova, length, userVa, (flags & IoasMapFlags.Writeable) == 0, 0));

        public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags) =>
            Answer(new BackendMapFile(0, 0, iova, length, fd, start, (flags & IoasMapFlags.Writeable) == 0, 0));

        public Errno Unmap(ulong iova, ref ulong length) => Answer(new BackendUnmap(0, 0, iova, length, 0, false));

        public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => [];

        /// <summary>The same recording answering as a type1 container.</summary>
        public IType1Iommu AsType1 => new Type1View(this);

        sealed class Type1View(RecordedAnswers answers) : IType1Iommu
        {
            public ulong IovaPgsizes => 0x1000;
            public bool UnmapAllSupported => true;

            public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags) =>
                answers.Answer(new Type1MapDma(0, iova, size, vaddr, 0));

            public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
            {
                var err = answers.Answer(new Type1UnmapDma(0, iova, size, 0, 0));
                size = answers.LastUnmapped;
                return err;
            }

            public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => [];
        }

        ulong LastUnmapped { get; set; }

        Errno Answer(TraceEvent call)
        {
            string text = Describe(call);
            var recorded = Calls.Count < _recorded.Count ? _recorded[Calls.Count] : null;
            Calls.Add(text);
            if (recorded is null || Describe(recorded) != text) return Errno.Ok;
            LastUnmapped = recorded is Type1UnmapDma t ? t.Unmapped : 0;
            return recorded switch
            {
                Type1MapDma { Errno: > 0 } t1 => (Errno)t1.Errno,
                Type1UnmapDma { Errno: > 0 } t1 => (Errno)t1.Errno,
                BackendUnmap { NonExist: true } => Errno.ENOENT,
                BackendUnmap { Ret: < 0 } => Errno.EINVAL,
                BackendMap { Ret: < 0 } or BackendMapFile { Ret: < 0 } => Errno.EFAULT,
                _ => Errno.Ok,
            };
        }
    }
}

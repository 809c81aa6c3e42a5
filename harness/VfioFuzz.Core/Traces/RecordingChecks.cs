using VfioFuzz.Iommufd;

namespace VfioFuzz.Traces;

/// <summary>A problem in a recording, with the trace lines that show it.</summary>
public sealed record RecordingFinding(string Signature, string Summary, IReadOnlyList<int> Lines);

/// <summary>
/// The oracles, run over a recorded DMA stream instead of a model: an unmap of a range that
/// was never mapped (including the ones QEMU logged as unmap_dma_non_exist and swallowed),
/// cited with the line where the listener added (or skipped) that range; a map that
/// overlaps a live mapping; mappings left when the IOAS is freed (teardown); and a BAR that
/// was mmap'd or exported as dmabuf but never DMA-mapped (a device-coherent BAR missing from
/// Stage-2) without the listener saying why.
/// </summary>
public static class RecordingChecks
{
    public static IReadOnlyList<RecordingFinding> Run(IReadOnlyList<TraceEvent> events)
    {
        var findings = new List<RecordingFinding>();
        var areas = new IoasAreaSet();
        var mapLine = new Dictionary<ulong, int>();
        // The listener's last word on each range start: where region_add mapped or skipped it.
        var addedAt = new Dictionary<ulong, (int Line, string How)>();
        int? lastDel = null;
        foreach (var e in events)
            switch (e)
            {
                case RegionAddRam a: addedAt[a.Start] = (a.Line, "region_add [ram]"); break;
                case RegionSkipDmaMap s: addedAt[s.Iova] = (s.Line, $"skipped (vfio_listener_region_skip_dma_map \"{s.Name}\")"); break;
                case RegionAddNoDmaMap n: addedAt[n.Iova] = (n.Line, $"not mapped (vfio_listener_region_add_no_dma_map \"{n.Name}\")"); break;
                case RegionSkip { Add: true } k: addedAt[k.Start] = (k.Line, "skipped (not RAM)"); break;
                case RegionDel d: lastDel = d.Line; break;
                case BackendMap m when m.Ret == 0: Map(m.Line, m.Iova, m.Size, !m.ReadOnly); break;
                case BackendMapFile m when m.Ret == 0: Map(m.Line, m.Iova, m.Size, !m.ReadOnly); break;
                // The type1 container's calls as the real-QEMU lab's shim logs them (QEMU traces none).
                case Type1MapDma m when m.Errno == 0: Map(m.Line, m.Iova, m.Size, writeable: true); break;
                case BackendUnmap u:
                    Unmap(u.Line, u.Iova, u.Size, u.NonExist ? "QEMU logged unmap_dma_non_exist and counted it as success" : $"ioctl returned {u.Ret}");
                    break;
                case Type1UnmapDma u:
                    Unmap(u.Line, u.Iova, u.Size, u.Errno == 0 ? "type1 answered success with nothing unmapped, so QEMU saw nothing wrong" : $"VFIO_IOMMU_UNMAP_DMA failed with errno {u.Errno}");
                    break;
                case BackendFreeId f:
                    foreach (var left in areas.AreasIn(0, (UInt128)ulong.MaxValue + 1))
                        findings.Add(new RecordingFinding("asymmetric-unmap:leaked-mapping",
                            $"line {f.Line}: the IOAS is freed with 0x{left.Iova:x}+0x{left.Length:x} still mapped (mapped at line {mapLine[left.Iova]})",
                            [mapLine[left.Iova], f.Line]));
                    Clear();
                    break;
            }
        findings.AddRange(UnmappedBars(events));
        findings.AddRange(ErrorEvidence.Find(events,
            iova => addedAt.TryGetValue(iova, out var at) ? at : null,
            (iova, size) => ListenerLiveAt(events, iova, size)));
        findings.AddRange(ListenerProtocol.Find(events));
        return findings.OrderBy(f => f.Lines.Max()).ToArray();

        void Map(int line, ulong iova, ulong size, bool writeable)
        {
            var overlap = areas.AreasIn(iova, (UInt128)iova + size);
            if (overlap.Count > 0)
            {
                findings.Add(new RecordingFinding("asymmetric-unmap:double-map",
                    $"line {line}: map of 0x{iova:x}+0x{size:x} overlaps 0x{overlap[0].Iova:x}+0x{overlap[0].Length:x} mapped at line {mapLine[overlap[0].Iova]} and still live",
                    [mapLine[overlap[0].Iova], line]));
                return;
            }
            areas.Insert(iova, size, writeable);
            mapLine[iova] = line;
        }

        ulong Clear() => areas.Clear();

        void Unmap(int line, ulong iova, ulong size, string answer)
        {
            bool all = iova == 0 && size == ulong.MaxValue;
            var removed = all ? Clear() : areas.Unmap(iova, (UInt128)iova + size).Unmapped;
            if (removed != 0 || all) return;
            var lines = new List<int>();
            string added = "never added";
            if (addedAt.TryGetValue(iova, out var at)) { lines.Add(at.Line); added = $"{at.How} at line {at.Line}"; }
            if (lastDel is { } del && del < line) lines.Add(del);
            lines.Add(line);
            findings.Add(new RecordingFinding("asymmetric-unmap:never-mapped",
                $"line {line}: unmap of 0x{iova:x}+0x{size:x} that was never mapped ({added}); {answer}", lines));
        }
    }

    /// <summary>The line of the newest region_add [ram] whose range holds [iova, iova+size): a
    /// type1 log's only record of what is mapped.</summary>
    static int? ListenerLiveAt(IReadOnlyList<TraceEvent> events, ulong iova, ulong size)
    {
        int? line = null;
        for (int i = 0; i < events.Count; i++)
            // An add whose own map failed (its error line follows directly) made nothing live.
            if (events[i] is RegionAddRam a && a.Start <= iova && (UInt128)iova + size - 1 <= a.Last
                && !(i + 1 < events.Count && events[i + 1] is DmaMapFailed or IoctlFailed { Map: true }))
                line = a.Line;
        return line;
    }

    static IEnumerable<RecordingFinding> UnmappedBars(IReadOnlyList<TraceEvent> events)
    {
        var maps = events.OfType<BackendMap>().Where(m => m.Ret == 0).Select(m => (m.Va, m.Size))
            .Concat(events.OfType<Type1MapDma>().Where(m => m.Errno == 0).Select(m => (m.Va, m.Size))).ToArray();
        var fileMaps = events.OfType<BackendMapFile>().Where(m => m.Ret == 0).ToArray();
        var excused = events.OfType<RegionAddNoDmaMap>().Select(n => n.Name)
            .Concat(events.OfType<RegionSkipDmaMap>().Select(s => s.Name)).ToHashSet();
        // A map QEMU logged as failed is the listener's "why": ErrorEvidence reports it.
        var failed = events.OfType<DmaMapFailed>().ToArray();
        foreach (var mmap in events.OfType<RegionMmap>().Where(r => r.Va != 0))
        {
            ulong size = mmap.End - mmap.Offset + 1;
            if (maps.Any(m => m.Va < mmap.Va + size && mmap.Va < m.Va + m.Size) || excused.Contains(mmap.Name)) continue;
            if (failed.Any(m => m.Va >= mmap.Va && m.Va < mmap.Va + size)) continue;
            if (fileMaps.Length > 0 && events.OfType<RegionDmabuf>().Any(d => mmap.Name.StartsWith(d.Name, StringComparison.Ordinal))) continue;
            yield return new RecordingFinding("missing-stage2:bar-never-mapped",
                $"line {mmap.Line}: {mmap.Name} was mmap'd at 0x{mmap.Va:x} but never DMA-mapped, and the listener did not log why", [mmap.Line]);
        }
        foreach (var buf in events.OfType<RegionDmabuf>())
        {
            // An earlier revision of the dmabuf series logged no fd: a MAP_FILE of the same size is its map.
            if (fileMaps.Any(m => buf.Fd >= 0 ? m.Fd == buf.Fd : m.Size == buf.Size) || excused.Any(n => n.StartsWith(buf.Name, StringComparison.Ordinal))) continue;
            yield return new RecordingFinding("missing-stage2:bar-never-mapped",
                $"line {buf.Line}: {buf.Name} (dmabuf fd {buf.Fd}) was never mapped with MAP_FILE, and the listener did not log why", [buf.Line]);
        }
    }
}

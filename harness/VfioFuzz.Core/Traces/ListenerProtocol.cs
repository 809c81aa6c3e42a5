namespace VfioFuzz.Traces;

/// <summary>
/// The listener's protocol, checked on its own events even when no backend line exists:
/// QEMU's memory core hands a listener sections of one flat view, so a region_add over a range
/// still live (no region_del between) is a section the listener never saw go; a region_del
/// must name exactly a range added before it. Findings, each naming both lines:
/// `asymmetric-unmap:add-over-live`, `asymmetric-unmap:del-range-differs`, and
/// `asymmetric-unmap:del-never-added` (only when the excerpt starts at the session's start,
/// an IOAS allocation, since an excerpt may begin after the add). Adds are region_add [ram],
/// region_add [iommu] and SKIPPING region_add; dels are region_del and SKIPPING region_del.
/// One listener per log is assumed: two containers' listeners in one log (two address
/// spaces) would show as overlapping adds.
/// </summary>
static class ListenerProtocol
{
    public static IEnumerable<RecordingFinding> Find(IReadOnlyList<TraceEvent> events)
    {
        var live = new List<(ulong Start, ulong Last, int Line)>();
        bool sessionStart = false;
        foreach (var e in events)
        {
            switch (e)
            {
                case BackendIoas: sessionStart = true; break;
                case RegionAddRam a: foreach (var f in Add(a.Start, a.Last, a.Line)) yield return f; break;
                case RegionAddIommu a: foreach (var f in Add(a.Start, a.Last, a.Line)) yield return f; break;
                case RegionSkip { Add: true } a: foreach (var f in Add(a.Start, a.Last, a.Line)) yield return f; break;
                case RegionDel d: foreach (var f in Del(d.Start, d.Last, d.Line)) yield return f; break;
                case RegionSkip { Add: false } d: foreach (var f in Del(d.Start, d.Last, d.Line)) yield return f; break;
            }
        }

        IEnumerable<RecordingFinding> Add(ulong start, ulong last, int line)
        {
            foreach (var old in live.Where(l => l.Start <= last && start <= l.Last).ToArray())
            {
                yield return new RecordingFinding("asymmetric-unmap:add-over-live",
                    $"line {line}: region_add 0x{start:x} - 0x{last:x} over 0x{old.Start:x} - 0x{old.Last:x}, added at line {old.Line} and never deleted: " +
                    "the listener missed a region_del, so whatever it mapped for the old section is still there (or is mapped twice)", [old.Line, line]);
                live.Remove(old);
            }
            live.Add((start, last, line));
        }

        IEnumerable<RecordingFinding> Del(ulong start, ulong last, int line)
        {
            int exact = live.FindIndex(l => l.Start == start && l.Last == last);
            if (exact >= 0)
            {
                live.RemoveAt(exact);
                yield break;
            }
            var overlapping = live.Where(l => l.Start <= last && start <= l.Last).ToArray();
            foreach (var old in overlapping)
            {
                yield return new RecordingFinding("asymmetric-unmap:del-range-differs",
                    $"line {line}: region_del 0x{start:x} - 0x{last:x} does not match the range added at line {old.Line} (0x{old.Start:x} - 0x{old.Last:x}): " +
                    "add and del disagree, so the unmap cannot undo the map", [old.Line, line]);
                live.Remove(old);
            }
            if (overlapping.Length == 0 && sessionStart)
                yield return new RecordingFinding("asymmetric-unmap:del-never-added",
                    $"line {line}: region_del 0x{start:x} - 0x{last:x} of a range never added since the IOAS was allocated", [line]);
        }
    }
}

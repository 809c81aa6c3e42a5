namespace VfioFuzz.Memory;

/// <summary>A terminal region placed in the address space, in render order (earlier wins).</summary>
public readonly record struct Placement(MemoryRegion Mr, ulong Gpa);

/// <summary>
/// The flattened address space: what QEMU's generate_memory_topology produces. Placements are
/// painted in render order (the caller lists higher-priority regions first, a container's
/// subregions before the container's own content); a later placement only fills what earlier
/// ones left uncovered, and adjacent pieces of one region that stay contiguous in both address
/// and offset merge into one FlatRange, as flatview_simplify does.
/// </summary>
public sealed class FlatView
{
    public static readonly FlatView Empty = new([]);

    public IReadOnlyList<Section> Sections { get; }

    FlatView(IReadOnlyList<Section> sections) => Sections = sections;

    public static FlatView Render(IEnumerable<Placement> renderOrder)
    {
        var painted = new List<(UInt128 Start, UInt128 End)>();   // sorted, disjoint
        var pieces = new List<Section>();
        foreach (var p in renderOrder)
        {
            UInt128 start = p.Gpa, end = (UInt128)p.Gpa + p.Mr.Size;
            foreach (var (gs, ge) in Gaps(painted, start, end))
                pieces.Add(new Section(p.Mr, (ulong)gs, (ulong)(ge - gs), (ulong)(gs - start), p.Mr.ReadOnly));
            Insert(painted, start, end);
        }
        pieces.Sort((a, b) => a.Gpa.CompareTo(b.Gpa));
        return new FlatView(Merge(pieces));
    }

    /// <summary>The section covering a GPA, if any.</summary>
    public Section? Find(ulong gpa)
    {
        int lo = 0, hi = Sections.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var s = Sections[mid];
            if (gpa < s.Gpa) hi = mid - 1;
            else if (!s.Contains(gpa)) lo = mid + 1;
            else return s;
        }
        return null;
    }

    static IEnumerable<(UInt128, UInt128)> Gaps(List<(UInt128 Start, UInt128 End)> painted, UInt128 start, UInt128 end)
    {
        UInt128 cursor = start;
        foreach (var (ps, pe) in painted)
        {
            if (pe <= cursor) continue;
            if (ps >= end) break;
            if (ps > cursor) yield return (cursor, ps);
            cursor = UInt128.Max(cursor, pe);
            if (cursor >= end) yield break;
        }
        if (cursor < end) yield return (cursor, end);
    }

    static void Insert(List<(UInt128 Start, UInt128 End)> painted, UInt128 start, UInt128 end)
    {
        painted.Add((start, end));
        painted.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = painted.Count - 1; i > 0; i--)
        {
            var (ps, pe) = painted[i - 1];
            var (cs, ce) = painted[i];
            if (cs <= pe)
            {
                painted[i - 1] = (ps, UInt128.Max(pe, ce));
                painted.RemoveAt(i);
            }
        }
    }

    static List<Section> Merge(List<Section> sorted)
    {
        var merged = new List<Section>(sorted.Count);
        foreach (var s in sorted)
        {
            if (merged.Count > 0)
            {
                var last = merged[^1];
                if (ReferenceEquals(last.Mr, s.Mr) && last.End == s.Gpa
                    && last.OffsetInRegion + last.Size == s.OffsetInRegion && last.ReadOnly == s.ReadOnly)
                {
                    merged[^1] = last with { Size = last.Size + s.Size };
                    continue;
                }
            }
            merged.Add(s);
        }
        return merged;
    }
}

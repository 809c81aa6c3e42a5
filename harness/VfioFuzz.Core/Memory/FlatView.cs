using System.Collections.Immutable;
using System.Runtime.InteropServices;

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

    /// <summary>The FlatRanges in GPA order. An array rather than a list interface: the
    /// runner walks two views per transaction on the fuzzing hot path.</summary>
    public ImmutableArray<Section> Sections { get; }

    FlatView(ImmutableArray<Section> sections) => Sections = sections;

    /// <summary>Renders the placements; returns <paramref name="unchanged"/> itself when the
    /// result has exactly its sections.</summary>
    public static FlatView Render(IReadOnlyList<Placement> renderOrder, FlatView? unchanged = null)
    {
        // painted: the covered intervals so far, sorted and disjoint. A placement adds a piece
        // for each gap it fills, then joins the painted set.
        var painted = t_painted ??= new(16);
        var pieces = t_pieces ??= new(16);
        painted.Clear();
        pieces.Clear();
        for (int n = 0; n < renderOrder.Count; n++)
        {
            var p = renderOrder[n];
            UInt128 start = p.Gpa, end = (UInt128)p.Gpa + p.Mr.Size, cursor = start;
            foreach (var (ps, pe) in painted)
            {
                if (pe <= cursor) continue;
                if (ps >= end) break;
                if (ps > cursor) pieces.Add(Piece(p, cursor, ps));
                cursor = UInt128.Max(cursor, pe);
                if (cursor >= end) break;
            }
            if (cursor < end) pieces.Add(Piece(p, cursor, end));
            Insert(painted, start, end);
        }
        pieces.Sort(static (a, b) => a.Gpa.CompareTo(b.Gpa));
        var merged = Merge(pieces);
        if (unchanged is not null && CollectionsMarshal.AsSpan(merged).SequenceEqual(unchanged.Sections.AsSpan())) return unchanged;
        return new FlatView([.. merged]);
    }

    // Scratch for Render, per thread (campaigns run targets in parallel); only the merged
    // sections of the result are allocated.
    [ThreadStatic] static List<(UInt128 Start, UInt128 End)>? t_painted;
    [ThreadStatic] static List<Section>? t_pieces;
    [ThreadStatic] static List<Section>? t_merged;

    static Section Piece(Placement p, UInt128 from, UInt128 to) =>
        new(p.Mr, (ulong)from, (ulong)(to - from), (ulong)(from - p.Gpa), p.Mr.ReadOnly);

    /// <summary>The section covering a GPA, if any.</summary>
    public Section? Find(ulong gpa)
    {
        int lo = 0, hi = Sections.Length - 1;
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

    /// <summary>Adds [start, end) to the sorted disjoint set, joining what it touches.</summary>
    static void Insert(List<(UInt128 Start, UInt128 End)> painted, UInt128 start, UInt128 end)
    {
        int i = 0;
        while (i < painted.Count && painted[i].End < start) i++;
        int j = i;
        while (j < painted.Count && painted[j].Start <= end)
        {
            start = UInt128.Min(start, painted[j].Start);
            end = UInt128.Max(end, painted[j].End);
            j++;
        }
        painted.RemoveRange(i, j - i);
        painted.Insert(i, (start, end));
    }

    /// <summary>Joins adjacent pieces of one region (flatview_simplify) into a scratch list:
    /// only a view that differs from the current one is copied out.</summary>
    static List<Section> Merge(List<Section> sorted)
    {
        int count = 0;
        var merged = t_merged ??= new(16);
        CollectionsMarshal.SetCount(merged, sorted.Count);
        foreach (var s in sorted)
        {
            if (count > 0)
            {
                var last = merged[count - 1];
                if (ReferenceEquals(last.Mr, s.Mr) && last.End == s.Gpa
                    && last.OffsetInRegion + last.Size == s.OffsetInRegion && last.ReadOnly == s.ReadOnly)
                {
                    merged[count - 1] = last with { Size = last.Size + s.Size };
                    continue;
                }
            }
            merged[count++] = s;
        }
        CollectionsMarshal.SetCount(merged, count);
        return merged;
    }
}

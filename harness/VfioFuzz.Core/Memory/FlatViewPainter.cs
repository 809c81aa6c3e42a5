using System.Runtime.InteropServices;

namespace VfioFuzz.Memory;

/// <summary>
/// Paints placements into a <see cref="FlatView"/>. It holds the scratch lists a render needs,
/// so a World that renders after every op of every execution reuses them and allocates only
/// the sections of a view that changed. One painter per World, inside its
/// <see cref="FlatViewCache"/> (not thread-static: a thread-local lookup per render cost more
/// than the render's own sorting).
/// </summary>
public sealed class FlatViewPainter
{
    // The covered intervals so far, sorted and disjoint. A placement adds a piece for each
    // gap it fills, then joins the painted set.
    readonly List<(UInt128 Start, UInt128 End)> _painted = new(16);
    readonly List<Section> _pieces = new(16);
    readonly List<Section> _merged = new(16);

    /// <summary>Renders the placements.</summary>
    public FlatView Paint(IReadOnlyList<Placement> renderOrder)
    {
        _painted.Clear();
        _pieces.Clear();
        for (int n = 0; n < renderOrder.Count; n++)
        {
            var p = renderOrder[n];
            UInt128 start = p.Gpa, end = (UInt128)p.Gpa + p.Length, cursor = start;
            foreach (ref readonly var painted in CollectionsMarshal.AsSpan(_painted))
            {
                var (ps, pe) = painted;
                if (pe <= cursor) continue;
                if (ps >= end) break;
                if (ps > cursor) _pieces.Add(Piece(p, cursor, ps));
                cursor = UInt128.Max(cursor, pe);
                if (cursor >= end) break;
            }
            if (cursor < end) _pieces.Add(Piece(p, cursor, end));
            Join(start, end);
        }
        SortByGpa(CollectionsMarshal.AsSpan(_pieces));
        Merge();
        return new FlatView([.. _merged]);
    }

    static Section Piece(Placement p, UInt128 from, UInt128 to) =>
        new(p.Mr, (ulong)from, to - from, p.Offset + (ulong)(from - p.Gpa), p.Mr.ReadOnly || p.ReadOnly);

    /// <summary>Pieces are disjoint and few (a dozen): an insertion sort on the address beats
    /// the general sort and its comparison delegate.</summary>
    static void SortByGpa(Span<Section> pieces)
    {
        for (int i = 1; i < pieces.Length; i++)
        {
            var x = pieces[i];
            int j = i - 1;
            while (j >= 0 && pieces[j].Gpa > x.Gpa)
            {
                pieces[j + 1] = pieces[j];
                j--;
            }
            pieces[j + 1] = x;
        }
    }

    /// <summary>Adds [start, end) to the painted set, joining what it touches.</summary>
    void Join(UInt128 start, UInt128 end)
    {
        int i = 0;
        while (i < _painted.Count && _painted[i].End < start) i++;
        int j = i;
        while (j < _painted.Count && _painted[j].Start <= end)
        {
            start = UInt128.Min(start, _painted[j].Start);
            end = UInt128.Max(end, _painted[j].End);
            j++;
        }
        if (j == i + 1) _painted[i] = (start, end);
        else
        {
            _painted.RemoveRange(i, j - i);
            _painted.Insert(i, (start, end));
        }
    }

    /// <summary>Joins adjacent pieces of one region that stay contiguous in address and offset
    /// (flatview_simplify).</summary>
    void Merge()
    {
        _merged.Clear();
        foreach (var s in _pieces)
        {
            if (_merged.Count > 0)
            {
                var last = _merged[^1];
                if (ReferenceEquals(last.Mr, s.Mr) && last.End == s.Gpa
                    && last.OffsetInRegion + last.Size == s.OffsetInRegion && last.ReadOnly == s.ReadOnly)
                {
                    _merged[^1] = last with { Size = last.Size + s.Size };
                    continue;
                }
            }
            _merged.Add(s);
        }
    }
}

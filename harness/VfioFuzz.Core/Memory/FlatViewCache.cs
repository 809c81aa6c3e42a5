using System.Runtime.InteropServices;

namespace VfioFuzz.Memory;

/// <summary>
/// Remembers the view each sequence of placements painted to. A World renders after every
/// change, and the same placements come back all the time: MEM toggled off and on, a reset
/// to the boot layout, the transient addresses of BAR sizing, and, across executions of one
/// runner, every layout earlier programs reached. A hit costs a hash and a compare instead
/// of a paint and a new section array. Views are immutable and regions are compared by
/// reference (sections keep the region object), so a cached view is exactly what a new paint
/// would give.
/// </summary>
public sealed class FlatViewCache(int capacity = 4096)
{
    readonly FlatViewPainter _painter = new();
    readonly Dictionary<int, (Placement[] Placements, FlatView View)> _views = new(64);

    /// <summary>The view of <paramref name="renderOrder"/>; <paramref name="current"/> itself
    /// when that has the same sections, so an unchanged layout is never a transaction.</summary>
    public FlatView Paint(List<Placement> renderOrder, FlatView? current)
    {
        var placements = CollectionsMarshal.AsSpan(renderOrder);
        int hash = Hash(placements);
        FlatView view;
        if (_views.TryGetValue(hash, out var hit) && SamePlacements(placements, hit.Placements)) view = hit.View;
        else
        {
            view = _painter.Paint(renderOrder);
            // A bound, not an eviction policy: a campaign's layouts are few, a runaway is cleared.
            if (_views.Count >= capacity) _views.Clear();
            _views[hash] = (placements.ToArray(), view);
        }
        return current is not null && !ReferenceEquals(view, current) && view.SameSections(current) ? current : view;
    }

    /// <summary>A multiply-xor mix of each placement: a region's own hash is computed once
    /// when it is made (equal regions of two Worlds collide, and the compare tells them apart).</summary>
    static int Hash(ReadOnlySpan<Placement> placements)
    {
        ulong h = (ulong)placements.Length;
        foreach (ref readonly var p in placements)
        {
            h = (h ^ (uint)p.Mr.GetHashCode()) * 0x9E3779B97F4A7C15UL;
            h = (h ^ p.Gpa) * 0x9E3779B97F4A7C15UL;
            h = (h ^ p.Offset ^ (p.Size << 1) ^ (p.ReadOnly ? 1UL : 0UL)) * 0x9E3779B97F4A7C15UL;
        }
        return (int)(h ^ (h >> 32));
    }

    static bool SamePlacements(ReadOnlySpan<Placement> a, ReadOnlySpan<Placement> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (!ReferenceEquals(a[i].Mr, b[i].Mr) || a[i].Gpa != b[i].Gpa || a[i].ReadOnly != b[i].ReadOnly
                || a[i].Offset != b[i].Offset || a[i].Size != b[i].Size) return false;
        return true;
    }
}

using System.Collections.Immutable;

namespace VfioFuzz.Memory;

/// <summary>A terminal region placed in the address space, in render order (earlier wins).
/// <paramref name="ReadOnly"/>: mapped read-only here although the region is writable (a
/// chipset PAM/SMRAM attribute on the alias that places it). <paramref name="Offset"/> and
/// <paramref name="Size"/> place a window of the region, as an alias does (Size 0: all of it).</summary>
public readonly record struct Placement(MemoryRegion Mr, ulong Gpa, bool ReadOnly = false, ulong Offset = 0, ulong Size = 0)
{
    public UInt128 Length => Size == 0 ? Mr.Size : Size;
}

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

    internal FlatView(ImmutableArray<Section> sections) => Sections = sections;

    /// <summary>Renders placements with a painter of its own (a World renders after every
    /// change through its <see cref="FlatViewCache"/>, which keeps one painter).</summary>
    public static FlatView Render(IReadOnlyList<Placement> renderOrder) => new FlatViewPainter().Paint(renderOrder);

    /// <summary>Whether <paramref name="other"/> has exactly these sections. Regions are
    /// compared by reference first: a World's view is compared with the next one after every
    /// change, and its regions are the same objects.</summary>
    public bool SameSections(FlatView other)
    {
        var a = Sections.AsSpan();
        var b = other.Sections.AsSpan();
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
        {
            ref readonly var x = ref a[i];
            ref readonly var y = ref b[i];
            if (x.Gpa != y.Gpa || x.Size != y.Size || x.OffsetInRegion != y.OffsetInRegion || x.ReadOnly != y.ReadOnly) return false;
            if (!ReferenceEquals(x.Mr, y.Mr) && !x.Mr.Equals(y.Mr)) return false;
        }
        return true;
    }

    /// <summary>The sections of this view that <paramref name="other"/> does not have (as
    /// FlatRanges: same region, address, size, offset, readonly), in address order: the
    /// runner's region_del/region_add sets, and the oracles' new sections. Both are sorted by
    /// GPA and a kept section keeps its GPA, so one merge walk finds them; the walk's answer is
    /// kept with this view, per other view, because a World's views come from its cache and
    /// the same pairs recur all the time (a BAR sized, moved back, toggled; every run's
    /// registration and teardown), so each pair is walked once per World.</summary>
    public ReadOnlySpan<Section> NotIn(FlatView other)
    {
        if (Sections.IsEmpty || ReferenceEquals(other, this)) return [];
        if (other.Sections.IsEmpty) return Sections.AsSpan();
        // Views are shared only with the runs of one World, one at a time; the lock is for a
        // World handed to another thread between runs (uncontended).
        lock (_notIn)
        {
            if (_notIn.TryGetValue(other._id, out var known)) return known;
            // A bound, not a policy: a view meets few others (a runaway is cleared).
            if (_notIn.Count >= 256) _notIn.Clear();
            return _notIn[other._id] = Walk(Sections.AsSpan(), other.Sections.AsSpan());
        }
    }

    // Keyed by the other view's number, not the view: a view evicted from its World's cache
    // is not kept alive by the answers of the views it met.
    readonly Dictionary<long, Section[]> _notIn = [];
    readonly long _id = Interlocked.Increment(ref _views);
    static long _views;

    static Section[] Walk(ReadOnlySpan<Section> from, ReadOnlySpan<Section> other)
    {
        List<Section>? missing = null;
        int j = 0;
        for (int i = 0; i < from.Length; i++)
        {
            ref readonly var s = ref from[i];
            while (j < other.Length && other[j].Gpa < s.Gpa) j++;
            bool kept = false;
            for (int k = j; k < other.Length && other[k].Gpa == s.Gpa && !kept; k++) kept = other[k] == s;
            if (!kept) (missing ??= []).Add(s);
        }
        return missing is null ? [] : [.. missing];
    }

    /// <summary>The section covering a GPA, if any.</summary>
    public Section? Find(ulong gpa)
    {
        int at = FirstEndingAfter(gpa);
        return at < Sections.Length && Sections[at].Gpa <= gpa ? Sections[at] : null;
    }

    /// <summary>The index of the first section that ends above <paramref name="gpa"/> (the
    /// sections are in address order and never overlap), or the count when none does: where a
    /// walk over the sections meeting [gpa, ...) starts.</summary>
    public int FirstEndingAfter(ulong gpa)
    {
        int lo = 0, hi = Sections.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (Sections[mid].End <= gpa) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}

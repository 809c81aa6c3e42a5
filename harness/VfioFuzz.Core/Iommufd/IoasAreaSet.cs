namespace VfioFuzz.Iommufd;

/// <summary>
/// The areas of an IOAS in IOVA order, with the kernel's unmap rule: the areas wholly inside
/// the range go in IOVA order, and the first one that straddles an edge stops the unmap with
/// ENOENT (the earlier ones stay removed). The simulator answers from it; the real and replay
/// backends keep one as a shadow of what the kernel holds, for the oracles.
/// </summary>
public sealed class IoasAreaSet
{
    readonly SortedList<ulong, IoasArea> _areas = [];

    public int Count => _areas.Count;

    public void Insert(ulong iova, ulong length, bool writeable) => _areas.Add(iova, new IoasArea(iova, length, writeable));

    /// <summary>Removes what an IOMMU_IOAS_UNMAP of [iova, end) removes; returns the errno and
    /// the bytes removed (the length out-parameter on success).</summary>
    public (Errno Result, ulong Unmapped) Unmap(ulong iova, UInt128 end)
    {
        ulong unmapped = 0;
        // In place: each removal brings the next area to the same index.
        int at = FirstIntersecting(iova);
        var values = _areas.Values;
        while (at < values.Count && values[at].Iova < end)
        {
            var area = values[at];
            if (area.Iova < iova || area.End > end) return (Errno.ENOENT, unmapped);
            _areas.RemoveAt(at);
            unmapped += area.Length;
        }
        return unmapped == 0 ? (Errno.ENOENT, 0) : (Errno.Ok, unmapped);
    }

    /// <summary>For a shadow: what the kernel did for an IOMMU_IOAS_UNMAP it answered with
    /// <paramref name="result"/> (the same rule, so the areas follow it exactly; the
    /// conformance suite is what checks the rule).</summary>
    public void Follow(ulong iova, ulong length, Errno result)
    {
        if (iova == 0 && length == ulong.MaxValue) { if (result == Errno.Ok) Clear(); }
        else if (length != 0 && (UInt128)iova + length - 1 <= ulong.MaxValue) Unmap(iova, (UInt128)iova + length);
    }

    /// <summary>IOMMU_IOAS_UNMAP with iova 0 and length UINT64_MAX: everything.</summary>
    public ulong Clear()
    {
        ulong all = 0;
        foreach (var a in _areas.Values) all += a.Length;
        _areas.Clear();
        return all;
    }

    /// <summary>The areas intersecting [start, end), in IOVA order.</summary>
    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end)
    {
        var (first, last) = Intersecting(start, end);
        if (first == last) return [];
        var result = new IoasArea[last - first];
        var values = _areas.Values;
        for (int i = first; i < last; i++) result[i - first] = values[i];
        return result;
    }

    /// <summary>The same areas into <paramref name="into"/> (cleared first); no allocation.</summary>
    public void AreasIn(ulong start, UInt128 end, List<IoasArea> into)
    {
        into.Clear();
        var (first, last) = Intersecting(start, end);
        var values = _areas.Values;
        for (int i = first; i < last; i++) into.Add(values[i]);
    }

    /// <summary>The index range [first, last) of the areas intersecting [start, end).</summary>
    (int First, int Last) Intersecting(ulong start, UInt128 end)
    {
        var keys = _areas.Keys;
        int first = FirstIntersecting(start), last = first;
        while (last < keys.Count && keys[last] < end) last++;
        return (first, last);
    }

    /// <summary>Whether any area intersects [start, end); no allocation.</summary>
    public bool Intersects(ulong start, UInt128 end)
    {
        int first = FirstIntersecting(start);
        return first < _areas.Count && _areas.Keys[first] < end;
    }

    /// <summary>Whether the areas cover [iova, iova+length) without a gap; no allocation.</summary>
    public bool Covers(ulong iova, ulong length)
    {
        UInt128 cursor = iova, end = (UInt128)iova + length;
        var values = _areas.Values;
        for (int i = FirstIntersecting(iova); i < values.Count && values[i].Iova < end; i++)
        {
            if (values[i].Iova > cursor) return false;
            cursor = UInt128.Max(cursor, values[i].End);
        }
        return cursor >= end;
    }

    /// <summary>The index of the first area that could intersect [start, ...): the last one
    /// starting at or before start if it reaches past it, else the first starting after.</summary>
    int FirstIntersecting(ulong start)
    {
        var keys = _areas.Keys;
        int lo = 0, hi = keys.Count - 1, first = keys.Count;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] >= start) { first = mid; hi = mid - 1; }
            else lo = mid + 1;
        }
        if (first > 0 && _areas.Values[first - 1].End > start) first--;
        return first;
    }
}

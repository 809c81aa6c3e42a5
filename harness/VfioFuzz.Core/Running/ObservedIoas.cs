using VfioFuzz.Iommufd;
using VfioFuzz.Oracles;

namespace VfioFuzz.Running;

/// <summary>Puts the oracles between the listener and the IOAS: every call is passed through
/// unchanged and then shown to each oracle with its answer and, for an unmap, what it removed.</summary>
public sealed class ObservedIoas(IIoas inner, RunContext ctx, Oracle[] oracles) : IIoas
{
    readonly List<IoasArea> _before = new(4);

    public ulong IovaAlignment => inner.IovaAlignment;

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags)
    {
        var injected = ctx.TakeInjectedFailure();
        var result = injected != Errno.Ok ? injected : inner.Map(iova, length, userVa, flags);
        return ObserveMap(ctx, oracles, new MapCall(iova, length, File: false, flags, result, injected != Errno.Ok));
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        var injected = ctx.TakeInjectedFailure();
        var result = injected != Errno.Ok ? injected : inner.MapFile(iova, length, fd, start, flags);
        return ObserveMap(ctx, oracles, new MapCall(iova, length, File: true, flags, result, injected != Errno.Ok));
    }

    /// <summary>A map's answer shown to the oracles (an injected failure noted first): the one
    /// step both observers, iommufd's and type1's, take after every map.</summary>
    internal static Errno ObserveMap(RunContext ctx, Oracle[] oracles, in MapCall call)
    {
        ctx.IoasCalls++;
        if (call.Injected) ctx.Injected(call);
        else if (call.Result == Errno.Ok) ctx.Mapped(call);
        foreach (var o in oracles) o.OnMap(ctx, call);
        return call.Result;
    }

    public Errno Unmap(ulong iova, ref ulong length)
    {
        ulong requested = length;
        UInt128 end = iova == 0 && length == ulong.MaxValue ? (UInt128)ulong.MaxValue + 1 : (UInt128)iova + length;
        // Into a buffer of this observer's: an unmap is not re-entered (the oracles only look),
        // and none keeps the list past its OnUnmap.
        var before = _before;
        inner.AreasIn(iova, end, before);
        var result = inner.Unmap(iova, ref length);
        ctx.IoasCalls++;
        ctx.IoasUnmaps++;
        // The kernel's rule: a successful unmap removed every area it intersected (a straddling
        // one would have made it fail), so only a failed one needs a second look.
        var removed = before.Count == 0 || result == Errno.Ok ? before : Removed(before, inner.AreasIn(iova, end));
        var call = new UnmapCall(iova, requested, result, removed);
        foreach (var o in oracles) o.OnUnmap(ctx, call);
        return result;
    }

    /// <summary>The areas of <paramref name="before"/> gone from <paramref name="after"/>;
    /// both are in IOVA order and an unmap only removes, so one walk finds them.</summary>
    static IReadOnlyList<IoasArea> Removed(IReadOnlyList<IoasArea> before, IReadOnlyList<IoasArea> after)
    {
        if (after.Count == 0) return before;
        var removed = new List<IoasArea>(before.Count);
        int j = 0;
        for (int i = 0; i < before.Count; i++)
        {
            while (j < after.Count && after[j].Iova < before[i].Iova) j++;
            if (j < after.Count && after[j] == before[i]) continue;
            removed.Add(before[i]);
        }
        return removed;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => inner.AreasIn(start, end);
}

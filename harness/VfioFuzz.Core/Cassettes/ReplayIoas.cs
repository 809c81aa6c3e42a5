using VfioFuzz.Iommufd;

namespace VfioFuzz.Cassettes;

/// <summary>
/// A backend that answers from a recorded session: each call must ask exactly what the
/// recording's next call asked, and gets the recorded answer (errno, unmapped length). A call
/// the recording does not have is a <see cref="CassetteDivergenceException"/> naming the
/// cassette, the call number and both sides. Areas are a shadow kept from the answers.
/// </summary>
public sealed class ReplayIoas(string cassettePath, CassetteSession session) : IIoas
{
    readonly IoasAreaSet _shadow = new();
    int _next;

    /// <summary>Whether every recorded call was asked for.</summary>
    public bool Exhausted => _next == session.Calls.Length;

    public ulong IovaAlignment => session.Geometry.Alignment;

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags)
    {
        var recorded = Next(new MapCallRecord(iova, length, userVa, flags, Errno.Ok));
        if (recorded.Result == Errno.Ok) _shadow.Insert(iova, length, (flags & IoasMapFlags.Writeable) != 0);
        return recorded.Result;
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        var recorded = Next(new MapFileCallRecord(iova, length, fd, start, flags, Errno.Ok));
        if (recorded.Result == Errno.Ok) _shadow.Insert(iova, length, (flags & IoasMapFlags.Writeable) != 0);
        return recorded.Result;
    }

    public Errno Unmap(ulong iova, ref ulong length)
    {
        var recorded = (UnmapCallRecord)Next(new UnmapCallRecord(iova, length, Errno.Ok, 0));
        _shadow.Follow(iova, length, recorded.Result);
        if (recorded.Result == Errno.Ok) length = recorded.Unmapped;
        return recorded.Result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => _shadow.AreasIn(start, end);

    CassetteCall Next(CassetteCall asked)
    {
        if (_next == session.Calls.Length)
            throw new CassetteDivergenceException($"{cassettePath}: session '{session.Subject}': call {_next + 1} ({asked.Request}) is past the end of the recording ({session.Calls.Length} calls)");
        var recorded = session.Calls[_next];
        if (!recorded.SameRequest(asked))
            throw new CassetteDivergenceException($"{cassettePath}: session '{session.Subject}': call {_next + 1} diverges: the run asked {asked.Request}, the recording has {recorded.Request}");
        _next++;
        return recorded;
    }
}

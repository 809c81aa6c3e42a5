using VfioFuzz.Iommufd;

namespace VfioFuzz.Cassettes;

/// <summary>Wraps any backend and records every call with its answer, for a cassette
/// session. Disposing it disposes the backend.</summary>
public sealed class RecordingIoas(IIoas inner, IoasGeometry geometry) : IIoas, IDisposable
{
    readonly List<CassetteCall> _calls = [];

    public IReadOnlyList<CassetteCall> Calls => _calls;

    public CassetteSession Session(string subject) => new(subject, geometry, [.. _calls]);

    public ulong IovaAlignment => inner.IovaAlignment;

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags)
    {
        var result = inner.Map(iova, length, userVa, flags);
        _calls.Add(new MapCallRecord(iova, length, userVa, flags, result));
        return result;
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        var result = inner.MapFile(iova, length, fd, start, flags);
        _calls.Add(new MapFileCallRecord(iova, length, fd, start, flags, result));
        return result;
    }

    public Errno Unmap(ulong iova, ref ulong length)
    {
        ulong requested = length;
        var result = inner.Unmap(iova, ref length);
        _calls.Add(new UnmapCallRecord(iova, requested, result, result == Errno.Ok ? length : 0));
        return result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => inner.AreasIn(start, end);

    public void Dispose() => (inner as IDisposable)?.Dispose();
}

using VfioFuzz.Iommufd;

namespace VfioFuzz.Cassettes;

/// <summary>One recorded call at the IOAS boundary: what was asked (in the harness's own
/// terms: the simulated VA and fd, so a recording replays anywhere) and what the backend
/// answered.</summary>
public abstract record CassetteCall(Errno Result)
{
    public abstract string Op { get; }

    /// <summary>The request without the answer, for divergence messages.</summary>
    public abstract string Request { get; }

    /// <summary>Whether <paramref name="other"/> asks the same thing (answers aside).</summary>
    public abstract bool SameRequest(CassetteCall other);
}

public sealed record MapCallRecord(ulong Iova, ulong Length, ulong UserVa, IoasMapFlags Flags, Errno Result) : CassetteCall(Result)
{
    public override string Op => "map";
    public override string Request => $"map iova=0x{Iova:x} length=0x{Length:x} va=0x{UserVa:x} flags={Flags}";
    public override bool SameRequest(CassetteCall other) => other is MapCallRecord m && m with { Result = Result } == this;
}

public sealed record MapFileCallRecord(ulong Iova, ulong Length, int Fd, ulong Start, IoasMapFlags Flags, Errno Result) : CassetteCall(Result)
{
    public override string Op => "map-file";
    public override string Request => $"map-file iova=0x{Iova:x} length=0x{Length:x} fd={Fd} start=0x{Start:x} flags={Flags}";
    public override bool SameRequest(CassetteCall other) => other is MapFileCallRecord m && m with { Result = Result } == this;
}

/// <summary><paramref name="Unmapped"/> is the length out-parameter (bytes removed) on success.</summary>
public sealed record UnmapCallRecord(ulong Iova, ulong Length, Errno Result, ulong Unmapped) : CassetteCall(Result)
{
    public override string Op => "unmap";
    public override string Request => $"unmap iova=0x{Iova:x} length=0x{Length:x}";
    public override bool SameRequest(CassetteCall other) => other is UnmapCallRecord u && u.Iova == Iova && u.Length == Length;
}

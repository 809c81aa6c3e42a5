using System.Collections.Immutable;
using VfioFuzz.Iommufd;

namespace VfioFuzz.Cassettes;

/// <summary>One backend session: what it ran (a corpus entry on a target, or a conformance
/// case), the IOAS geometry the backend reported, and every call in order.</summary>
public sealed record CassetteSession(string Subject, IoasGeometry Geometry, ImmutableArray<CassetteCall> Calls);

/// <summary>
/// A recording of real backend sessions (schema vfio-fuzz/cassette/1): where it was recorded
/// (kernel release, machine, backend) and the sessions. `--backend replay:FILE` answers from
/// it; the conformance suite compares the simulator with it.
/// </summary>
public sealed record Cassette(string Path, string Kernel, string Machine, string Backend, string Recorded, ImmutableArray<CassetteSession> Sessions)
{
    public const string Schema = "vfio-fuzz/cassette/1";

    public CassetteSession Session(string subject) =>
        Sessions.FirstOrDefault(s => s.Subject == subject)
        ?? throw new CassetteDivergenceException($"{Path}: no session '{subject}' (the recording has: {string.Join(", ", Sessions.Select(s => s.Subject))})");
}

/// <summary>The run asked something the recording does not have.</summary>
public sealed class CassetteDivergenceException(string message) : InputException(message);

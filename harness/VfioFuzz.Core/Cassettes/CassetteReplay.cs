using VfioFuzz.Conformance;
using VfioFuzz.Corpus;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Running;

namespace VfioFuzz.Cassettes;

/// <summary>Runs a corpus entry on a target against a recorded session of it (the session
/// named after the target), on the World of the recording's kernel.</summary>
public static class CassetteReplay
{
    /// <summary>The entry's profile on the recording kernel: a BAR is a dmabuf only where
    /// that kernel exports one (as the recording ran it).</summary>
    public static Profile ProfileOf(Cassette cassette, CorpusEntry entry) =>
        entry.Profile with { Kernel = ConformanceSuite.FlavorOf(cassette.Kernel) };

    /// <summary>The result, or a <see cref="CassetteDivergenceException"/> when the run asks
    /// anything the recording does not have, or fewer calls than it has.</summary>
    public static RunResult Run(Cassette cassette, CorpusEntry entry, TargetCatalog catalog, string targetId, bool trace = false)
    {
        var session = cassette.Session(targetId);
        ReplayIoas? ioas = null;
        // A session is one IOAS: a program that closes its container (the last device
        // unplugged) and opens another has no recording of the second.
        var options = new RunOptions(Trace: trace, Backend: (_, _) => ioas is null
            ? ioas = new ReplayIoas(cassette.Path, session)
            : throw new CassetteDivergenceException($"{cassette.Path}: session '{targetId}': the program opens a second container (a device-replug after the last device's unplug); a recording holds one"));
        var result = new ProgramRunner(ProfileOf(cassette, entry), () => catalog.Create(targetId), options).Run(entry.Program);
        if (!ioas!.Exhausted)
            throw new CassetteDivergenceException($"{cassette.Path}: session '{targetId}': the run ended before the recording's last call ({session.Calls.Length} recorded)");
        return result;
    }
}

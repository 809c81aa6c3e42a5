namespace VfioFuzz.Fuzzing;

/// <summary>
/// Which findings the fuzz driver turns into a crash for the engine. A campaign crashes on
/// any signature it does not know yet (known: the finding store's, and the empty program's,
/// which every input would show). A time-to-one-bug run crashes on that signature alone, as
/// Magma's canaries work: an input showing another bug stays an ordinary input the engine can
/// queue and extend, instead of a dead end in crashes/.
/// A campaign's known set follows the finding store live: the CLI rewrites the file named by
/// <see cref="KnownFileVariable"/> whenever triage saves a signature, and the driver re-reads it
/// (at most four times a second, when it changed), so an input showing a signature seen mid-campaign
/// stops being a crash and the engine keeps extending it.
/// </summary>
public sealed class CrashRule
{
    /// <summary>The driver's environment variable naming the one signature to crash on.</summary>
    public const string OnlySignatureVariable = "VFIO_FUZZ_ONLY_SIGNATURE";

    /// <summary>The driver's environment variable naming the campaign's known-signatures file (one a line).</summary>
    public const string KnownFileVariable = "VFIO_FUZZ_KNOWN_FILE";

    readonly HashSet<string> _known;
    readonly string? _only;
    readonly string? _knownFile;
    long _nextCheck;
    DateTime _fileTime;

    CrashRule(IEnumerable<string> known, string? only, string? knownFile)
    {
        _known = [.. known];
        _only = only;
        _knownFile = knownFile;
    }

    /// <summary>Crash on what is not in <paramref name="known"/> (nor, when given, in the live file).</summary>
    public static CrashRule Unknown(IEnumerable<string> known, string? knownFile = null) => new(known, null, knownFile);

    /// <summary>Crash on <paramref name="signature"/> only.</summary>
    public static CrashRule Only(string signature) => new([], signature, null);

    public bool IsCrash(string signature)
    {
        if (_only is not null) return signature == _only;
        if (_known.Contains(signature)) return false;
        Refresh();
        return !_known.Contains(signature);
    }

    /// <summary>Adds what the live file lists now (checked at most every 250 ms, read when it changed).</summary>
    void Refresh()
    {
        if (_knownFile is null || Environment.TickCount64 < _nextCheck) return;
        _nextCheck = Environment.TickCount64 + 250;
        try
        {
            var time = File.GetLastWriteTimeUtc(_knownFile);
            if (time == _fileTime) return;
            _fileTime = time;
            foreach (var line in File.ReadAllLines(_knownFile))
                if (line.Length > 0) _known.Add(line);
        }
        catch (IOException) { }   // being replaced right now: the next check reads it
    }

    /// <summary>Writes a known-signatures file atomically (what the CLI does after each new finding).</summary>
    public static void WriteKnownFile(string path, IEnumerable<string> known) =>
        Reports.AtomicFile.WriteAllText(path, string.Join("\n", known.Distinct().Order(StringComparer.Ordinal)) + "\n");
}

namespace VfioFuzz.Fuzzing;

/// <summary>
/// Which findings the fuzz driver turns into a crash for the engine. A campaign crashes on
/// any signature it does not know yet (known: the finding store's, and the empty program's,
/// which every input would show). A time-to-one-bug run crashes on that signature alone, as
/// Magma's canaries work: an input showing another bug stays an ordinary input the engine can
/// queue and extend, instead of a dead end in crashes/.
/// </summary>
public sealed class CrashRule
{
    /// <summary>The driver's environment variable naming the one signature to crash on.</summary>
    public const string OnlySignatureVariable = "VFIO_FUZZ_ONLY_SIGNATURE";

    readonly HashSet<string> _known;
    readonly string? _only;

    CrashRule(IEnumerable<string> known, string? only)
    {
        _known = [.. known];
        _only = only;
    }

    /// <summary>Crash on what is not in <paramref name="known"/>.</summary>
    public static CrashRule Unknown(IEnumerable<string> known) => new(known, null);

    /// <summary>Crash on <paramref name="signature"/> only.</summary>
    public static CrashRule Only(string signature) => new([], signature);

    public bool IsCrash(string signature) => _only is null ? !_known.Contains(signature) : signature == _only;
}

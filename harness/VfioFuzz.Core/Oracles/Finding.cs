namespace VfioFuzz.Oracles;

/// <summary>
/// One thing an oracle saw go wrong. The signature (kind:detail:role) is stable across runs,
/// SHAs and machines: it names the failure, not the addresses, so it is what de-duplicates.
/// </summary>
/// <param name="Step">0 is the boot-time replay of the initial view, 1..N the program's ops,
/// N+1 the teardown (listener unregister).</param>
/// <param name="Effect">For an asymmetric unmap: whether it was harmless at that moment or
/// destroyed a mapping; otherwise what the guest would see.</param>
public sealed record Finding(string Kind, string Signature, int Step, string Summary, string Explanation, string Effect);

public static class FindingKinds
{
    public const string AsymmetricUnmap = "asymmetric-unmap";
    public const string MissingStage2 = "missing-stage2";
    public const string Timeout = "timeout";
    public const string Crash = "crash";
    public const string UnexpectedErrno = "unexpected-errno";
    public const string DirtyLost = "dirty-lost";
}

namespace VfioFuzz.Oracles;

/// <summary>
/// One thing an oracle saw go wrong. The signature (kind:detail:role) is stable across runs,
/// SHAs and machines: it names the failure, not the addresses, so it is what de-duplicates.
/// </summary>
/// <param name="Step">0 is the boot-time replay of the initial view, 1..N the program's ops,
/// N+1 the teardown (listener unregister).</param>
/// <param name="Effect">For an asymmetric unmap: whether it was harmless at that moment or
/// destroyed a mapping; otherwise what the guest would see.</param>
public sealed record Finding(string Kind, string Signature, int Step, string Summary, string Explanation, string Effect)
{
    // A kind that is not in FindingKinds.All would be saved by a campaign and then refused by
    // the corpus loader, the gate and the nightly summary: refuse it where it is made.
    public string Kind { get; } = FindingKinds.Begins(Kind, Signature)
        ? Kind
        : throw new ArgumentException($"finding '{Signature}' of kind '{Kind}': the kind must be one of FindingKinds.All and begin the signature");
}

namespace VfioFuzz.Oracles;

/// <summary>
/// The one list of finding kinds (a signature's first part). The oracles make findings of
/// these kinds only (a <see cref="Finding"/> of another kind cannot be built), and the corpus
/// loader, the reports, the gate's check families and the nightly summary all read this list,
/// so a new oracle family is added here once and every reader knows it.
/// </summary>
public static class FindingKinds
{
    public const string AsymmetricUnmap = "asymmetric-unmap";
    public const string MissingStage2 = "missing-stage2";
    public const string Timeout = "timeout";
    public const string Crash = "crash";
    public const string UnexpectedErrno = "unexpected-errno";
    public const string DirtyLost = "dirty-lost";

    /// <summary>`--container both`: the program's verdict on the iommufd container differs from
    /// its verdict on the type1 container.</summary>
    public const string ContainerDivergence = "container-divergence";

    /// <summary>`--backend iommufd --differential`: the real kernel and the simulator answered a
    /// call differently (the simulator, not the target, is wrong, or the kernel changed).</summary>
    public const string BackendDivergence = "backend-divergence";

    /// <summary>Every kind, in the order reports and the gate list them.</summary>
    public static readonly IReadOnlyList<string> All = [AsymmetricUnmap, MissingStage2, Timeout, Crash, UnexpectedErrno, DirtyLost, ContainerDivergence, BackendDivergence];

    public static bool IsKind(string kind) => All.Contains(kind);

    /// <summary>Whether <paramref name="kind"/> is a known kind and begins <paramref name="signature"/>
    /// as its first part (checked for every finding made, so without allocating).</summary>
    public static bool Begins(string kind, string signature) =>
        IsKind(kind) && signature.Length > kind.Length && signature[kind.Length] == ':' && signature.StartsWith(kind, StringComparison.Ordinal);

    /// <summary>The kind part of a signature (everything before the first ':').</summary>
    public static string KindOf(string signature) => signature.Split(':', 2)[0];

    /// <summary>A signature is kind:detail[:more], with a known kind and no empty part; null
    /// when it is one, else what is wrong with it.</summary>
    public static string? Problem(string signature)
    {
        string[] parts = signature.Split(':');
        if (parts.Length < 2 || parts.Any(p => p.Length == 0 || p.Any(char.IsWhiteSpace)))
            return $"'{signature}' is not a finding signature (kind:detail[:role], no empty or spaced parts)";
        return IsKind(parts[0]) ? null : $"'{signature}' has an unknown kind '{parts[0]}' (kinds: {string.Join(", ", All)})";
    }
}

using VfioFuzz.Gate;

namespace VfioFuzz.Corpus;

/// <summary>
/// The tree each target is compared with when a corpus entry does not list it: for a target a
/// series pick introduces, the target of the tree just before that pick (series.yaml order);
/// for any other target, upstream. Upstream itself has no base: an entry that does not list
/// it does not judge it.
/// </summary>
public sealed class TargetBases
{
    public const string Upstream = "qemu-11.0";

    readonly Dictionary<string, string> _bases = [];

    public TargetBases(IEnumerable<Series> series)
    {
        foreach (var s in series)
            foreach (var commit in s.Commits)
            {
                string before = s.TargetBefore(commit);
                // The first pick that leads to a target is the one that introduced it; a pick
                // that leaves the tree as it was (same target) introduces nothing.
                if (before != commit.Target) _bases.TryAdd(commit.Target, before);
            }
    }

    /// <summary>Every patches-under-test/&lt;branch&gt;/series.yaml under <paramref name="root"/>
    /// (none when the folder does not exist).</summary>
    public static TargetBases Load(string root) =>
        new(Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "series.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(Series.Load)
            : []);

    /// <summary>The base of <paramref name="target"/>, or null for upstream itself.</summary>
    public string? BaseOf(string target) =>
        _bases.TryGetValue(target, out var b) ? b : target == Upstream ? null : Upstream;
}

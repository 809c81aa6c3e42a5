using VfioFuzz.Corpus;
using VfioFuzz.Listener;
using VfioFuzz.Running;

namespace VfioFuzz.Gate;

/// <summary>One step of a bisect: the commit tested and what the entry showed there.</summary>
public sealed record BisectStep(SeriesCommit? Commit, string Target, bool Bad, IReadOnlyCollection<string> Signatures);

/// <summary>The first bad commit (null when there is none between good and bad), and the log.</summary>
public sealed record BisectResult(SeriesCommit? FirstBad, IReadOnlyList<BisectStep> Steps, string Good, string Bad);

/// <summary>A bisect that cannot start: good is not good, or bad is not bad.</summary>
public sealed class BisectUsageException(string message) : InputException(message);

/// <summary>
/// `git bisect run` over a series with a corpus entry as the test: each commit's tree is its
/// target. A commit is bad when the entry shows <c>signature</c> there, or, without one, when
/// its findings differ from the good commit's. Good defaults to the branch point (the
/// series' base target), bad to the last commit. Binary search, as git does: the result is a
/// commit that is bad right after one that is good.
/// </summary>
public static class Bisect
{
    public static BisectResult Run(Series series, CorpusEntry entry, TargetCatalog catalog, string? good = null, string? bad = null, string? signature = null)
    {
        int Index(string? sha, int fallback, string what)
        {
            if (sha is null) return fallback;
            if (sha == "base") return -1;
            var c = series.Find(sha) ?? throw new BisectUsageException($"--{what} {sha}: no such commit in {series.Path} (branch or upstream SHA, at least 7 digits, or 'base')");
            return series.Commits.IndexOf(c);
        }
        int lo = Index(good, -1, "good"), hi = Index(bad, series.Commits.Length - 1, "bad");
        if (lo >= hi) throw new BisectUsageException($"good ({Name(series, lo)}) must come before bad ({Name(series, hi)})");

        var steps = new List<BisectStep>();
        IReadOnlySet<string> Findings(int i) =>
            new ProgramRunner(entry.Profile, () => catalog.Create(TargetAt(series, i))).Run(entry.Program).Signatures.ToHashSet();
        var goodFindings = Findings(lo);
        bool IsBad(IReadOnlySet<string> f) => signature is not null ? f.Contains(signature) : !f.SetEquals(goodFindings);
        BisectStep Test(int i)
        {
            var f = Findings(i);
            var step = new BisectStep(i < 0 ? null : series.Commits[i], TargetAt(series, i), IsBad(f), f);
            steps.Add(step);
            return step;
        }

        if (Test(lo).Bad) throw new BisectUsageException($"the good commit {Name(series, lo)} already shows the failure ({Describe(steps[^1])}): pass --good with an earlier commit or 'base'");
        if (!Test(hi).Bad) throw new BisectUsageException($"the bad commit {Name(series, hi)} does not show the failure ({Describe(steps[^1])}): pass --bad with a commit where it fails");
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (Test(mid).Bad) hi = mid; else lo = mid;
        }
        return new BisectResult(series.Commits[hi], steps, Name(series, Index(good, -1, "good")), Name(series, Index(bad, series.Commits.Length - 1, "bad")));
    }

    static string TargetAt(Series series, int i) => i < 0 ? series.BaseTarget : series.Commits[i].Target;

    static string Name(Series series, int i) => i < 0 ? $"base ({series.BaseTarget})" : $"{series.Commits[i].Short} {series.Commits[i].Subject}";

    public static string Describe(BisectStep s) => s.Signatures.Count == 0 ? "pass" : string.Join(", ", s.Signatures.Order(StringComparer.Ordinal));
}

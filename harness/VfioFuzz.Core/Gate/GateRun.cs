using VfioFuzz.Cassettes;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Listener;
using VfioFuzz.Oracles;
using VfioFuzz.Running;

namespace VfioFuzz.Gate;

/// <summary>One named check of a gate run (a JUnit test case).</summary>
public sealed record GateCheck(string Name, bool Passed, string Message);

/// <summary>A signature the patch shows and its base does not, with the program that shows it.</summary>
public sealed record GateRegression(string Signature, string Kind, string Source, string Reproducer);

/// <summary>A corpus entry that fails on the base and passes on the patch.</summary>
public sealed record GateFix(string Entry, IReadOnlyCollection<string> BaseSignatures);

/// <summary>What a gate run decided about one pick.</summary>
public sealed record GateResult(Patch Patch, SeriesCommit? Commit, string? Target, string? BaseTarget, IReadOnlyList<GateCheck> Checks,
    IReadOnlyList<GateRegression> Regressions, IReadOnlyList<GateFix> Fixes, long FuzzExecs)
{
    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>What the gate needs from its surroundings. <paramref name="Container"/>: the
/// container every check runs on; null runs each corpus entry on its own and fuzzes on iommufd.</summary>
public sealed record GateOptions(string CorpusDir, TimeSpan FuzzBudget, ulong Seed, string FindingsDir, string? BaseOverride = null,
    Machine.Profile? FuzzProfile = null, Action<CampaignStats>? FuzzProgress = null, ContainerChoice? Container = null)
{
    /// <summary>The campaign's profile: by default the one all three seed bugs live on.</summary>
    public Machine.Profile Profile => FuzzProfile ?? Machine.Profile.VrCxlType2;

    public ContainerChoice FuzzContainer => Container ?? ContainerChoice.Iommufd;
}

/// <summary>
/// The gate for one cherry-pick onto a branch: the pick trailer (`git cherry-pick -x -s`,
/// naming the source branch after the SHA) and a Signed-off-by; the target that models the
/// tree after the pick (from series.yaml); then the bug corpus and the committed cassettes
/// replayed on that target and on the base (the tree before the pick), and a seeded
/// in-process campaign on it: a signature the base does not show is a regression, reported
/// under the oracle family it belongs to; a corpus entry that stops failing is a fix.
/// </summary>
public static class GateRun
{
    public static GateResult Run(Patch patch, Series series, TargetCatalog catalog, GateOptions options)
    {
        var checks = new List<GateCheck>();
        var commit = series.Find(patch.CommitSha);
        checks.AddRange(TrailerChecks(patch, commit, series));

        string? target = commit?.Target;
        string? problem = commit is null
            ? $"{patch.CommitSha[..12]} is not in {series.Path}: add it (sha, patch, upstream, target) so a target models the tree after it"
            : !catalog.Targets.Any(t => t.Id == commit.Target) ? $"series.yaml names target '{commit.Target}', which targets/ does not have: write the target file first" : null;
        checks.Add(new GateCheck("target-model", problem is null, problem ?? $"{commit!.Short} is modelled by {target}"));
        if (problem is not null) return new GateResult(patch, commit, null, null, checks, [], [], 0);

        string baseTarget = options.BaseOverride ?? series.TargetBefore(commit!);
        var regressions = new List<GateRegression>();
        var fixes = new List<GateFix>();
        foreach (var path in CorpusFile.Find(Path.Combine(options.CorpusDir, "bugs")))
        {
            var entry = CorpusFile.Load(path);
            var mine = Run(entry, target!, catalog, options.Container).Signatures.ToHashSet();
            var theirs = Run(entry, baseTarget, catalog, options.Container).Signatures.ToHashSet();
            foreach (var sig in mine.Except(theirs).Order(StringComparer.Ordinal))
                regressions.Add(new GateRegression(sig, FindingKinds.KindOf(sig), $"corpus entry {entry.Id}", path));
            if (mine.Count == 0 && theirs.Count > 0) fixes.Add(new GateFix(entry.Id, theirs));
        }

        checks.Add(CassetteCheck(options.CorpusDir, target!, catalog));

        var fuzzOn = new RunOptions(Container: options.FuzzContainer);
        var store = new FindingStore(options.FindingsDir, catalog, options.FuzzContainer);
        var campaign = new InProcessCampaign(options.Profile, target!, () => catalog.Create(target!), store, fuzzOn);
        var stats = campaign.Run(options.Seed, options.FuzzBudget, options.FuzzProgress, CancellationToken.None);
        var baseRunner = new ProgramRunner(options.Profile, () => catalog.Create(baseTarget), fuzzOn);
        foreach (var f in campaign.Findings)
        {
            if (regressions.Any(r => r.Signature == f.Finding.Signature)) continue;
            if (!baseRunner.Run(f.Minimized).Signatures.Contains(f.Finding.Signature))
                regressions.Add(new GateRegression(f.Finding.Signature, f.Finding.Kind, $"fuzzing ({stats.Execs} programs, seed {options.Seed})", f.ReproducerPath));
        }

        foreach (var family in FindingKinds.All)
        {
            var mine = regressions.Where(r => r.Kind == family).ToArray();
            checks.Add(new GateCheck($"no-new-{family}", mine.Length == 0, mine.Length == 0
                ? $"no {family} finding that {baseTarget} does not have"
                : string.Join("; ", mine.GroupBy(r => r.Signature).Select(g =>
                    $"{g.Key} not on {baseTarget}: reproducer {g.First().Reproducer} ({g.First().Source}{(g.Count() > 1 ? $", and {g.Count() - 1} more" : "")})"))));
        }
        return new GateResult(patch, commit, target, baseTarget, checks, regressions, fixes, stats.Execs);
    }

    static RunResult Run(CorpusEntry entry, string target, TargetCatalog catalog, ContainerChoice? container) =>
        new ProgramRunner(entry.Profile, () => catalog.Create(target), new RunOptions(Container: container ?? entry.Container)).Run(entry.Program);

    static IEnumerable<GateCheck> TrailerChecks(Patch patch, SeriesCommit? commit, Series series)
    {
        yield return PickTrailer.Check(patch, commit, series);
        var signoffs = patch.Trailers.Where(t => t.StartsWith("Signed-off-by: ", StringComparison.Ordinal)).ToArray();
        yield return new GateCheck("signed-off-by", signoffs.Length > 0,
            signoffs.Length > 0 ? signoffs[^1] : "no Signed-off-by trailer (git cherry-pick -s adds the picker's)");
    }

    /// <summary>Every committed corpus cassette that has a session for the target replays
    /// without divergence: the model still makes exactly the calls the real kernel answered.</summary>
    static GateCheck CassetteCheck(string corpusDir, string target, TargetCatalog catalog)
    {
        string dir = Path.Combine(corpusDir, "cassettes");
        int replayed = 0;
        foreach (var file in (Directory.Exists(dir) ? Directory.GetFiles(dir, "*.yaml") : []).Order(StringComparer.Ordinal))
        {
            string entryPath = Path.Combine(corpusDir, "bugs", Path.GetFileName(file));
            if (!File.Exists(entryPath)) continue;   // conformance.yaml and recordings of removed entries
            var cassette = CassetteFile.Load(file);
            if (cassette.Sessions.All(s => s.Subject != target)) continue;
            try { CassetteReplay.Run(cassette, CorpusFile.Load(entryPath), catalog, target); }
            catch (CassetteDivergenceException e) { return new GateCheck("cassette-replay", false, e.Message); }
            replayed++;
        }
        return new GateCheck("cassette-replay", true, $"{replayed} cassette session(s) of {target} replayed without divergence");
    }
}

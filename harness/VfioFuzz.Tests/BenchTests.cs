using VfioFuzz.Benchmarking;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>What `vfio-fuzz bench` times must be real bugs, and its random baseline must find
/// them the way a campaign would. (Speed itself is measured by the bench, never here.)</summary>
public class BenchTests
{
    static IReadOnlyList<SeedBug> Bugs(out IReadOnlyList<string> bootVisible) =>
        SeedBug.From(CorpusFile.Find(Path.Combine(Repo.Corpus, "bugs")).Select(p => CorpusFile.Load(p)), Repo.Catalog, out bootVisible);

    [Fact]
    public void Seed_bugs_are_signatures_the_empty_program_does_not_show_and_the_reproducer_does()
    {
        var bugs = Bugs(out var bootVisible);
        Assert.NotEmpty(bugs);
        foreach (var bug in bugs)
        {
            var entry = CorpusFile.Find(Path.Combine(Repo.Corpus, "bugs")).Select(p => CorpusFile.Load(p)).Single(e => e.Id == bug.EntryId);
            var runner = new VfioFuzz.Running.ProgramRunner(bug.Profile, () => Repo.Catalog.Create(bug.TargetId));
            Assert.DoesNotContain(bug.Signature, runner.Run(VfioFuzz.Programs.FuzzProgram.Empty).Signatures);
            Assert.Contains(bug.Signature, runner.Run(entry.Program).Signatures);
        }
        // cxl-dpa-bar-disable shows nothing beyond what boot and teardown already show.
        Assert.Contains("cxl-dpa-bar-disable", bootVisible);
    }

    [Fact]
    public void The_random_baseline_finds_a_seed_bug_and_is_deterministic_per_seed()
    {
        var bug = Bugs(out _).First(b => b.Signature == "timeout:atc-inv:cxl-type2");
        var store = new FindingStore(Path.Combine(Path.GetTempPath(), $"vfio-fuzz-bench-test-{Guid.NewGuid():N}"));
        InProcessCampaign Campaign() => new(bug.Profile, bug.TargetId, () => Repo.Catalog.Create(bug.TargetId), store);
        var first = Campaign().TimeTo(bug.Signature, 7, TimeSpan.FromMinutes(2), CancellationToken.None);
        var again = Campaign().TimeTo(bug.Signature, 7, TimeSpan.FromMinutes(2), CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal(first!.Value.Execs, again!.Value.Execs);
        Assert.False(Directory.Exists(store.Root));   // the baseline never triages or saves
    }
}

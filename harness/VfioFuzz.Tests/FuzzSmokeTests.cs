using VfioFuzz.Programs;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>A short seeded in-process campaign per seed-bug target finds its bug from nothing
/// (no reproducer given), saves it minimized, and the saved file replays to the same signature.</summary>
public sealed class FuzzSmokeTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"vfio-fuzz-smoke-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("nv-2e963ff+e227a6b", "vr-cxl-type2", "asymmetric-unmap:never-mapped:cxl-dpa")]
    [InlineData("nv-d814a45", "gb200-nvlink", "missing-stage2:nvlink-aperture")]
    [InlineData("nv-cdf5e75", "vr-cxl-type2", "timeout:atc-inv:cxl-type2")]
    public void Seeded_campaign_finds_the_seed_bug_and_saves_a_replayable_reproducer(string target, string profileName, string signature)
    {
        var profile = Profile.Resolve(profileName);
        var campaign = new InProcessCampaign(profile, target, () => Repo.Catalog.Create(target), new FindingStore(_dir));
        campaign.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);

        var found = Assert.Single(campaign.Findings, f => f.Finding.Signature == signature);
        Assert.True(found.Minimized.Ops.Length <= 4, $"{found.Minimized.Ops.Length} ops after minimization");
        var entry = CorpusFile.Load(found.ReproducerPath, Repo.Catalog.Targets.Select(t => t.Id).ToArray());
        var cell = Assert.Single(CorpusReplay.Run([entry], Repo.Catalog, [target], Running.RunOptions.Default));
        Assert.True(cell.AsExpected);
        Assert.Contains(signature, cell.Result.Signatures);
    }

    /// <summary>The listener bugs of issue 17 the harness could not reach or name before, as
    /// test targets: a seeded campaign, given nothing, finds each.</summary>
    static readonly Dictionary<string, Func<Listener.ListenerTarget>> Violators = new()
    {
        ["del-rounds-start-down"] = () => new DelRoundsStartDown(),
        ["del-ignores-min-page"] = () => new DelIgnoresMinPage(),
        ["del-trim-off-by-one"] = () => new DelTrimOffByOne(),
        ["double-iotlb-unmap"] = () => new DoubleIotlbUnmap(),
        ["stale-iotlb-list"] = () => new StaleIotlbListAtWindowDeletion(),
    };

    [Theory]
    [InlineData("del-rounds-start-down", "vr-cxl-type2-subpage", "asymmetric-unmap:size-mismatch:bar-mmap")]   // only sub-page edges reach it
    [InlineData("del-ignores-min-page", "vr-cxl-type2-smmu64k", "asymmetric-unmap:never-mapped:bar-mmap")]      // only an IOMMU page above the host's
    [InlineData("del-trim-off-by-one", "vr-cxl-type2", "asymmetric-unmap:size-mismatch:bar-mmap")]
    [InlineData("double-iotlb-unmap", "vr-cxl-type2", "asymmetric-unmap:iotlb-double-unmap:")]
    [InlineData("stale-iotlb-list", "vr-cxl-type2", "asymmetric-unmap:iotlb-double-unmap:")]
    public void Seeded_campaign_finds_each_violating_target(string violator, string profileName, string signature)
    {
        var profile = Profile.Resolve(profileName);
        var campaign = new InProcessCampaign(profile, $"test-{violator}", Violators[violator], new FindingStore(_dir));
        campaign.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);
        // One signature per role the entry translated to: each minimized to a short reproducer.
        var found = campaign.Findings.Where(f => f.Finding.Signature.StartsWith(signature, StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(found);
        // Short, and 1-minimal as ddmin promises: without any one of its ops the program no
        // longer shows the signature. (A reproducer may need an op more than the bug's core when
        // an address in it only means the same thing after the ops that placed it, e.g. an IOTLB
        // entry onto device memory a guest recommitted elsewhere.)
        Assert.All(found, f =>
        {
            string ops = string.Join("; ", f.Minimized.Ops.Select(ProgramText.Describe));
            Assert.True(f.Minimized.Ops.Length <= 5, $"{f.Finding.Signature}: {f.Minimized.Ops.Length} ops after minimization: {ops}");
            for (int i = 0; i < f.Minimized.Ops.Length; i++)
                Assert.False(Shows(profile, Violators[violator], f.Minimized.Ops.RemoveAt(i), f.Finding.Signature),
                    $"{f.Finding.Signature}: still shown without op {i + 1} of {ops}");
        });
    }

    /// <summary>Whether the ops show the signature on the target (an illegal program shows none).</summary>
    static bool Shows(Profile profile, Func<Listener.ListenerTarget> target, System.Collections.Immutable.ImmutableArray<Op> ops, string signature)
    {
        try { return new Running.ProgramRunner(profile, target).Run(new FuzzProgram(ops)).Signatures.Contains(signature); }
        catch (ProgramException) { return false; }
    }

    [Fact]
    public void A_campaigns_empty_program_reproducer_names_the_decision_behind_it()
    {
        var campaign = new InProcessCampaign(Profile.VrCxlType2, "nv-2e963ff+e227a6b", () => Repo.Catalog.Create("nv-2e963ff+e227a6b"), new FindingStore(_dir));
        campaign.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);
        var found = Assert.Single(campaign.Findings, f => f.Finding.Signature == "asymmetric-unmap:never-mapped:cxl-dpa");
        Assert.Empty(found.Minimized.Ops);
        Assert.Contains("registration replay asked for no map", found.Finding.Summary);
    }

    [Fact]
    public void A_second_campaign_recognises_what_the_first_saved()
    {
        var store = new FindingStore(_dir);
        var first = new InProcessCampaign(Profile.VrCxlType2, "nv-2e963ff-fixed", () => Repo.Catalog.Create("nv-2e963ff-fixed"), store);
        first.Run(seed: 7, TimeSpan.FromMinutes(1), null, CancellationToken.None, maxExecs: 200);
        var second = new InProcessCampaign(Profile.VrCxlType2, "nv-2e963ff-fixed", () => Repo.Catalog.Create("nv-2e963ff-fixed"), store);
        second.Run(seed: 7, TimeSpan.FromMinutes(1), null, CancellationToken.None, maxExecs: 200);
        Assert.NotEmpty(first.Findings);
        Assert.All(first.Findings, f => Assert.False(f.Known));
        Assert.All(second.Findings, f => Assert.True(f.Known));
        Assert.Equal(first.Findings.Select(f => f.Finding.Signature), second.Findings.Select(f => f.Finding.Signature));
    }
}

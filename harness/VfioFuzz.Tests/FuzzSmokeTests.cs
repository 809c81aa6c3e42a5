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

    [Theory]
    [InlineData("vr-cxl-type2-subpage", "asymmetric-unmap:size-mismatch:bar-mmap")]   // a del-side trim that rounds the start down
    public void Seeded_campaign_finds_a_trim_asymmetry_only_sub_page_edges_reach(string profileName, string signature)
    {
        var profile = Profile.Resolve(profileName);
        var campaign = new InProcessCampaign(profile, "test-del-rounds-start-down", () => new DelRoundsStartDown(), new FindingStore(_dir));
        campaign.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);
        var found = Assert.Single(campaign.Findings, f => f.Finding.Signature == signature);
        Assert.True(found.Minimized.Ops.Length <= 2, $"{found.Minimized.Ops.Length} ops after minimization");
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

using System.Collections.Immutable;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Replay judges every target: one an entry does not list is held to its base (the
/// tree before the pick that introduced it, or upstream), NEW when it shows a signature the
/// base does not, FIXED when a signature of the base is gone.</summary>
public sealed class ReplayBaseTests() : TempFolder("replay-base")
{
    static readonly TargetBases Bases = TargetBases.Load(Path.Combine(Repo.Root, "patches-under-test"));

    [Theory]
    [InlineData("nv-d814a45", "qemu-11.0")]                   // the first pick
    [InlineData("nv-cdf5e75", "nv-d814a45")]                  // the revert, against what it reverts
    [InlineData("nv-2e963ff+e227a6b", "nv-cdf5e75")]          // 0004 (0003 left the tree as the revert did)
    [InlineData("nv-2e963ff-fixed", "nv-2e963ff+e227a6b")]
    [InlineData("proposed-defer-unmap", "qemu-11.0")]         // in no series
    [InlineData("qemu-11.0", null)]                           // upstream has no base
    public void Each_target_has_the_base_series_yaml_gives_it(string target, string? expected) =>
        Assert.Equal(expected, Bases.BaseOf(target));

    static ReplayCell Cell(string entryFile, string target)
    {
        var entry = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", entryFile));
        var unlisted = entry with { Expect = entry.Expect.Remove(target) };
        return Assert.Single(CorpusReplay.Run([unlisted], Repo.Catalog, [target], new RunOptions(), Bases));
    }

    [Fact]
    public void A_signature_the_base_lacks_is_new_and_unexpected()
    {
        var cell = Cell("cxl-dpa-decommit.yaml", "nv-d814a45");
        Assert.Equal("qemu-11.0", cell.BaseId);
        Assert.Equal(["asymmetric-unmap:never-mapped:bar-mmap", "asymmetric-unmap:never-mapped:cxl-dpa", "missing-stage2:cxl-dpa"], cell.New);
        Assert.False(cell.AsExpected);
    }

    [Fact]
    public void A_signature_of_the_base_that_is_gone_is_fixed_and_expected()
    {
        var cell = Cell("cxl-dpa-decommit.yaml", "nv-cdf5e75");   // the revert, against d814a45
        Assert.Empty(cell.New);
        Assert.Equal(["asymmetric-unmap:never-mapped:bar-mmap", "asymmetric-unmap:never-mapped:cxl-dpa", "missing-stage2:cxl-dpa"], cell.Fixed);
        Assert.True(cell.AsExpected);
    }

    [Fact]
    public void A_saved_finding_records_what_every_target_shows_so_replay_judges_each_against_it()
    {
        var store = new FindingStore(Path.Combine(Dir, "findings"), Repo.Catalog);
        var program = new FuzzProgram([new HdmDecommit("cxl0")]);
        string[] onTarget = ["asymmetric-unmap:never-mapped:bar-mmap", "asymmetric-unmap:never-mapped:cxl-dpa", "missing-stage2:cxl-dpa"];
        var entry = CorpusFile.Load(store.Save("nv-d814a45", onTarget[1], Profile.VrCxlType2, program, onTarget, "test"));
        Assert.Equal(Repo.Catalog.Targets.Select(t => t.Id).Order(), entry.Expect.Keys.Order());
        Assert.Empty(entry.Expect["qemu-11.0"]);
        Assert.Equal(["asymmetric-unmap:never-mapped:cxl-dpa", "missing-stage2:cxl-dpa"], entry.Expect["nv-2e963ff+e227a6b"]);
        Assert.All(CorpusReplay.Run([entry], Repo.Catalog, [.. entry.Expect.Keys], new RunOptions(), Bases), c => Assert.True(c.AsExpected));
    }

    [Fact]
    public void The_cli_exits_1_on_a_new_signature_and_only_listed_leaves_it_unjudged()
    {
        string entry = Path.Combine(Dir, "unlisted.yaml");
        File.WriteAllText(entry, "id: unlisted\ndescription: no expectation for d814a45\nprofile: vr-cxl-type2\nprogram:\n  - hdm-decommit: {device: cxl0}\nexpect:\n  qemu-11.0: pass\n");
        string reports = Path.Combine(Dir, "reports");
        var judged = CliProcess.Run("replay", entry, "--target", "nv-d814a45", "--reports", reports);
        Assert.Equal(1, judged.ExitCode);
        Assert.Contains("NEW unlisted on nv-d814a45 against its base qemu-11.0", judged.Stdout);
        var listedOnly = CliProcess.Run("replay", entry, "--target", "nv-d814a45", "--reports", reports, "--only-listed");
        Assert.Equal(0, listedOnly.ExitCode);
        Assert.Contains("1 not judged", listedOnly.Stdout);
    }
}

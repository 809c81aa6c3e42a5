using VfioFuzz.Corpus;
using VfioFuzz.Running;
using VfioFuzz.Yaml;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The bug corpus replays as expected, and bad corpus files fail with file:line.</summary>
public class CorpusTests
{
    public static TheoryData<string> Entries()
    {
        var data = new TheoryData<string>();
        foreach (var f in CorpusFile.Find(Repo.Corpus)) data.Add(Path.GetRelativePath(Repo.Root, f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Corpus_entry_gives_its_expected_verdict_on_every_target(string relativePath)
    {
        var entry = CorpusFile.Load(Path.Combine(Repo.Root, relativePath), Repo.Catalog.Targets.Select(t => t.Id).ToArray());
        Assert.NotEmpty(entry.Expect);
        foreach (var cell in CorpusReplay.Run([entry], Repo.Catalog, entry.Expect.Keys.ToArray(), RunOptions.Default))
            Assert.True(cell.AsExpected, $"{cell.Target.Id}: expected [{string.Join(", ", entry.Expect[cell.Target.Id])}], got [{string.Join(", ", cell.Result.Signatures)}]");
    }

    [Fact]
    public void Seeds_add_no_finding_to_what_the_empty_program_has_on_any_target()
    {
        // The engines' acceptance is "find the bug from bug-free seeds": this is what makes them so.
        var seeds = CorpusFile.Find(Path.Combine(Repo.Corpus, "seeds"));
        Assert.NotEmpty(seeds);
        foreach (var path in seeds)
        {
            var entry = CorpusFile.Load(path);
            foreach (var target in Repo.Catalog.Targets)
            {
                var runner = new ProgramRunner(entry.Profile, () => Repo.Catalog.Create(target.Id));
                var baseline = runner.Run(Programs.FuzzProgram.Empty).Signatures.ToHashSet();
                var extra = runner.Run(entry.Program).Signatures.Where(s => !baseline.Contains(s)).ToArray();
                Assert.True(extra.Length == 0, $"{entry.Id} on {target.Id} adds {string.Join(", ", extra)}");
            }
        }
    }

    [Theory]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram: [\n", 4, "not valid YAML")]   // reported where the parser ran out of input
    [InlineData("id: x\nprofile: vr-cxl-type3\nprogram: []\n", 2, "unknown profile 'vr-cxl-type3'")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram:\n  - move-bar: {device: cxl0, bar: 2, gpa: 0x123}\n", 4, "must be a non-zero multiple")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram:\n  - command-mem: {device: cxl0, on: maybe}\n", 4, "must be true or false")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram:\n  - unmap-region: {region: dimm0}\n", 4, "step 1: region dimm0 is not mapped")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram:\n  - teleport: {device: cxl0}\n", 4, "unknown op 'teleport'")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram: []\nexpect:\n  qemu-12: pass\n", 5, "unknown target 'qemu-12'")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram: []\nexpect:\n  qemu-11.0: [oops]\n", 5, "'oops' is not a finding signature")]
    [InlineData("id: x\nprofil: vr-cxl-type2\nprogram: []\n", 2, "has no field 'profil'")]
    [InlineData("", 1, "the file is empty")]
    public void Malformed_entry_is_reported_at_its_file_and_line(string text, int line, string message)
    {
        var e = Assert.Throws<YamlFormatException>(() => CorpusFile.Parse("bad.yaml", text, Repo.Catalog.Targets.Select(t => t.Id).ToArray()));
        Assert.Equal(line, e.Line);
        Assert.Contains(message, e.Message);
        Assert.StartsWith($"bad.yaml:{line}: ", e.Message);
    }
}

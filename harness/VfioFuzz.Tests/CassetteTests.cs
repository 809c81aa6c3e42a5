using VfioFuzz.Listener;
using VfioFuzz.Cassettes;
using VfioFuzz.Conformance;
using VfioFuzz.Corpus;
using VfioFuzz.Programs;
using VfioFuzz.Yaml;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The committed cassettes (recorded on the lab kernel): the simulator agrees with
/// the conformance recording, every corpus recording replays to exactly its recorded calls,
/// and a run that asks something else is a divergence naming the call.</summary>
public class CassetteTests
{
    static string Cassettes => Path.Combine(Repo.Corpus, "cassettes");

    [Fact]
    public void The_simulator_agrees_with_the_real_kernel_on_every_conformance_case()
    {
        var cassette = CassetteFile.Load(Path.Combine(Cassettes, "conformance.yaml"));
        Assert.Equal(ConformanceSuite.Count, cassette.Sessions.Length);
        var differences = ConformanceSuite.Compare(cassette, ConformanceSuite.FlavorOf(cassette.Kernel));
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }

    [Fact]
    public void A_simulator_that_ignores_a_kernel_rule_is_caught_by_the_conformance_recording()
    {
        // The recording says EEXIST for a partial overlap; edit it to say Ok and the simulator disagrees.
        var cassette = CassetteFile.Load(Path.Combine(Cassettes, "conformance.yaml"));
        var sessions = cassette.Sessions.Select(s => s.Subject != "map-partial-overlap" ? s
            : s with { Calls = [s.Calls[0], ((MapCallRecord)s.Calls[1]) with { Result = Iommufd.Errno.Ok }] }).ToArray();
        var differences = ConformanceSuite.Compare(cassette with { Sessions = [.. sessions] }, ConformanceSuite.FlavorOf(cassette.Kernel));
        var d = Assert.Single(differences);
        Assert.Equal("map-partial-overlap", d.Case);
        Assert.Contains("kernel Ok, simulator EEXIST", d.Detail);
    }

    public static TheoryData<string> CorpusCassettes()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Cassettes, "*.yaml").Where(f => Path.GetFileName(f) != "conformance.yaml").Order())
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusCassettes))]
    public void Corpus_cassette_replays_every_recorded_call_on_every_target(string file)
    {
        var cassette = CassetteFile.Load(Path.Combine(Cassettes, file));
        var entry = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", file));
        // Recorded on iommufd: one session per target that has an iommufd container.
        Assert.Equal(Repo.Catalog.Targets.Count(t => t.Has(ContainerKind.Iommufd)), cassette.Sessions.Length);
        foreach (var session in cassette.Sessions)
            CassetteReplay.Run(cassette, entry, Repo.Catalog, session.Subject);   // throws on any divergence
    }

    [Fact]
    public void A_run_that_asks_something_the_recording_lacks_is_a_divergence_naming_the_call()
    {
        var cassette = CassetteFile.Load(Path.Combine(Cassettes, "cxl-dpa-bar-disable.yaml"));
        var entry = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", "cxl-dpa-bar-disable.yaml"));
        var other = entry with { Program = new FuzzProgram([new MapRegion("dimm0", Machine.World.HotplugBase)]) };
        var e = Assert.Throws<CassetteDivergenceException>(() => CassetteReplay.Run(cassette, other, Repo.Catalog, "qemu-11.0"));
        Assert.Contains("cxl-dpa-bar-disable.yaml: session 'qemu-11.0': call ", e.Message);
        Assert.Contains("diverges: the run asked map iova=0x100000000", e.Message);
    }

    [Theory]
    [InlineData("schema: vfio-fuzz/cassette/2\n", 1, "schema must be vfio-fuzz/cassette/1")]
    [InlineData("schema: vfio-fuzz/cassette/1\nkernel: k\nmachine: m\nbackend: b\nrecorded: r\nsessions:\n- subject: s\n  alignment: 0x1000\n  ranges: []\n  calls:\n  - {op: remap, errno: Ok}\n", 11, "unknown call 'remap'")]
    [InlineData("schema: vfio-fuzz/cassette/1\nkernel: k\nmachine: m\nbackend: b\nrecorded: r\nsessions:\n- subject: s\n  alignment: 0x1000\n  ranges: []\n  calls:\n  - {op: unmap, iova: 0x0, length: 0x1000, errno: EWHAT}\n", 11, "'EWHAT' is not an errno")]
    public void Malformed_cassette_is_reported_at_its_file_and_line(string text, int line, string message)
    {
        string path = Path.Combine(Path.GetTempPath(), $"cassette-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, text);
        try
        {
            var e = Assert.Throws<YamlFormatException>(() => CassetteFile.Load(path));
            Assert.Equal(line, e.Line);
            Assert.Contains(message, e.Message);
        }
        finally { File.Delete(path); }
    }
}

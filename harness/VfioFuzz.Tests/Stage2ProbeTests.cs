using VfioFuzz.Corpus;
using VfioFuzz.Programs;
using VfioFuzz.RealQemu;
using VfioFuzz.Traces;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The real Stage-2 check: on the lab's q35-edu machine, edu's DMA read, through the
/// emulated VT-d, the IOVAs whose mapping each op made or removed (corpus/realqemu/edu-*.probes);
/// those readings agree with what the model holds, and a model that holds otherwise (or a
/// reading that says otherwise) is a stage2-divergence naming the op.</summary>
public class Stage2ProbeTests
{
    static string Programs => Path.Combine(Repo.Corpus, "realqemu");

    static IEnumerable<string> EduFiles() => Directory.EnumerateFiles(Programs, "edu-*.yaml").Select(f => Path.GetFileName(f)).Order();

    public static TheoryData<string> EduPrograms() => [.. EduFiles()];

    static (CorpusEntry Entry, IReadOnlyList<Stage2Reading> Readings) Load(string file)
    {
        var entry = CorpusFile.Load(Path.Combine(Programs, file));
        string path = Stage2Probes.ReadingsOf(entry.Path);
        return (entry, Stage2Probes.Parse(path, File.ReadAllText(path)));
    }

    [Theory]
    [MemberData(nameof(EduPrograms))]
    public void Every_recorded_probe_agrees_with_what_the_model_holds_at_its_step(string file)
    {
        var (entry, readings) = Load(file);
        Assert.Equal(NestedMachine.Edu, NestedMachine.Of(entry.Profile));
        foreach (var target in new[] { "qemu-7.2", "qemu-11.0" })
        {
            var (divergence, unjudged) = Stage2Probes.Judge(entry.Program, NestedMachine.Edu, () => Repo.Catalog.Create(target), readings);
            Assert.True(divergence is null, $"{target}: {divergence?.Describe()}");
            Assert.True(unjudged * 2 < readings.Count, $"{unjudged} of {readings.Count} readings not judged");
        }
        // Every step the plan names was probed, at boot and after the last op everything held.
        var plan = Stage2Probes.Plan(entry.Program, NestedMachine.Edu, () => Repo.Catalog.Create("qemu-7.2"));
        Assert.Equal(plan.Select(p => p.Step).Distinct(), readings.Select(r => r.Step).Distinct());
        Assert.Equal(plan.Count, readings.Count);
    }

    [Fact]
    public void The_recordings_test_both_claims_the_iommu_blocked_and_the_device_reached_the_pattern_and_its_own_bar()
    {
        var all = EduFiles().Select(f => Load(f).Readings).SelectMany(r => r).ToList();
        Assert.Contains(all, r => r.Dma == 0 && r.Step > 0);                               // blocked after an op
        Assert.Contains(all, r => r.Dma >> 24 == 0xa5 && r.Dma == r.Cpu);                    // RAM: the fresh pattern
        Assert.Contains(all, r => r.Dma == 0x010000ed);                                     // edu's BAR, peer to peer: its ID
        Assert.Contains(all, r => r.Iova >= 0x1_0000_0000 && r.Dma == r.Cpu && r.Dma != 0); // a DIMM above 4 GiB
    }

    [Fact]
    public void The_plan_probes_what_each_op_mapped_or_unmapped_and_everything_at_boot_and_the_end()
    {
        var entry = CorpusFile.Load(Path.Combine(Programs, "edu-bar-move.yaml"));
        var plan = Stage2Probes.Plan(entry.Program, NestedMachine.Edu, () => Repo.Catalog.Create("qemu-7.2"));
        // MEM off: BAR0's range at its boot slot goes; the move with MEM off changes nothing.
        Assert.Equal([new Stage2Probe(1, 0xe010_0000, ProbeClaim.Unmapped, false)], plan.Where(p => p.Step == 1));
        Assert.DoesNotContain(plan, p => p.Step == 2);
        Assert.Equal([(0xe800_0000UL, ProbeClaim.Mapped)], plan.Where(p => p.Step == 3).Select(p => (p.Iova, p.Claim)));
        // The last op: BAR0 leaves 0xe8000000 for 0xec000000, and every mapping is probed.
        var last = plan.Where(p => p.Step == 4).ToList();
        Assert.Contains(new Stage2Probe(4, 0xe800_0000, ProbeClaim.Unmapped, false), last);
        Assert.Contains(last, p => p.Iova == 0xec00_0000 && p.Claim == ProbeClaim.Mapped && !p.WritableRam);
        Assert.Contains(last, p => p.Iova == 0x10_0000 && p.Claim == ProbeClaim.Mapped && p.WritableRam);
        // The BIOS ROM is read-only: no pattern; the lab may look for a non-zero word inside it.
        Assert.Contains(last, p => p.Iova == 0xfffc_0000 && !p.WritableRam && p.Slack == Stage2Probe.MaxSlack);
    }

    [Fact]
    public void The_seed_bug_shows_on_the_real_iommu_edus_dma_reaches_the_bar_the_model_never_mapped()
    {
        // nv-d814a45 skips the map of a VFIO-owned ram_device (edu's BAR0); real QEMU maps it,
        // and edu read its own ID register through that mapping.
        var (entry, readings) = Load("edu-mem-toggle.yaml");
        var (d, _) = Stage2Probes.Judge(entry.Program, NestedMachine.Edu, () => Repo.Catalog.Create("nv-d814a45"), readings);
        Assert.NotNull(d);
        Assert.Equal("stage2-divergence:boot:unmapped-but-reached", d.Signature);
        Assert.Equal((0xe010_0000UL, 0x010000edU), (d.Reading.Iova, d.Reading.Dma));
    }

    [Fact]
    public void A_reading_that_contradicts_the_model_is_a_divergence_of_its_kind_at_its_op()
    {
        var (entry, readings) = Load("edu-mem-toggle.yaml");
        var model = () => Repo.Catalog.Create("qemu-7.2");
        IReadOnlyList<Stage2Reading> With(Func<Stage2Reading, bool> which, Func<Stage2Reading, Stage2Reading> change) =>
            [.. readings.Select(r => which(r) ? change(r) : r)];
        // MEM off: the BAR's IOVA was blocked; had the DMA reached edu's ID, the unmap was not real.
        var reached = Stage2Probes.Judge(entry.Program, NestedMachine.Edu, model, With(r => r.Step == 1, r => r with { Dma = 0x010000ed })).First;
        Assert.Equal("stage2-divergence:command-mem:unmapped-but-reached", reached?.Signature);
        Assert.Contains("command-mem edu0 off", reached!.Describe());
        // RAM the model maps: a blocked read is a missing Stage-2 entry, another word a stale page.
        bool ram(Stage2Reading r) => r.Step == 0 && r.Iova == 0x10_0000;
        Assert.Equal("stage2-divergence:boot:mapped-but-blocked", Stage2Probes.Judge(entry.Program, NestedMachine.Edu, model, With(ram, r => r with { Dma = 0 })).First?.Signature);
        Assert.Equal("stage2-divergence:boot:wrong-page", Stage2Probes.Judge(entry.Program, NestedMachine.Edu, model, With(ram, r => r with { Dma = r.Cpu ^ 1 })).First?.Signature);
    }

    [Fact]
    public void A_malformed_readings_line_is_an_input_error_naming_the_file_and_line()
    {
        var e = Assert.Throws<TraceFormatException>(() => Stage2Probes.Parse("x.probes", "# header\nstep=0 iova=0x0 cpu=0x1 dma=0x1\nstep=1 iova=0x10 cpu=0x1\n"));
        Assert.StartsWith("x.probes:3: expected 'step=N iova=0x.. cpu=0x.. dma=0x..'", e.Message);
        Assert.Throws<TraceFormatException>(() => Stage2Probes.Parse("x.probes", "step=0 iova=0x0 cpu=0x100000000 dma=0x1\n"));
    }

    [Fact]
    public void Readings_round_trip_through_their_file_format()
    {
        IReadOnlyList<Stage2Reading> readings = [new(0, 0x10_0000, 0xa500_0001, 0xa500_0001), new(3, 0xe800_0000, 0, 0)];
        Assert.Equal(readings, Stage2Probes.Parse("r.probes", Stage2Probes.Format(readings)));
    }
}

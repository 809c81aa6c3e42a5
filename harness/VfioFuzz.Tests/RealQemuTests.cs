using VfioFuzz.Corpus;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.RealQemu;
using VfioFuzz.Traces;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The World and the upstream listener model are held to real QEMU: the recordings of
/// the lab's nested QEMU 7.2 (corpus/realqemu/*.log) agree with them op by op, and a recording
/// that says otherwise is a divergence naming the op and both sides.</summary>
public class RealQemuTests
{
    static string Programs => Path.Combine(Repo.Corpus, "realqemu");

    public static TheoryData<string> Recorded() =>
        [.. Directory.EnumerateFiles(Programs, "*.yaml").Select(f => Path.GetFileName(f)).Order()];

    [Theory]
    [MemberData(nameof(Recorded))]
    public void Every_recorded_program_agrees_with_the_world_and_the_models_op_by_op_answers_included(string file)
    {
        var entry = CorpusFile.Load(Path.Combine(Programs, file));
        // QEMU 7.2's model (the nested QEMU itself), and upstream's over the same type1 container.
        foreach (var target in new[] { "qemu-7.2", "qemu-11.0" })
        {
            var (nested, divergence) = RealQemuComparison.Judge(entry, RealQemuComparison.RecordingOf(entry.Path), () => Repo.Catalog.Create(target));
            Assert.True(divergence is null, $"{target}: {divergence?.Describe()}");
            Assert.Equal(entry.Program.Ops.Length, nested.Runnable.Ops.Length);   // every op has a guest-visible form
        }
    }

    [Fact]
    public void A_recording_that_lacks_a_call_the_model_makes_diverges_at_that_op_with_both_sides()
    {
        var entry = CorpusFile.Load(Path.Combine(Programs, "mem-toggle.yaml"));
        string log = File.ReadAllText(RealQemuComparison.RecordingOf(entry.Path));
        // Real QEMU unmapped BAR0 when MEM went off: drop that line, as a listener that forgot it would.
        string unmap = log.Split('\n').First(l => l.StartsWith("vfio_fuzz_type1_unmap_dma iova=0xe4000000", StringComparison.Ordinal));
        var d = RealQemuComparison.FirstDivergence(entry.Program, entry.Profile, () => Repo.Catalog.Create("qemu-7.2"), "tampered.log", log.Replace(unmap + "\n", ""));
        Assert.NotNull(d);
        Assert.Equal(1, d.Step);
        Assert.Contains("command-mem mdev0 off", d.Describe());
        Assert.Contains(d.Model, e => e == new StepEvent("unmap", 0xe400_0000, 0x400_0000, "ok unmapped=0x4000000"));
        Assert.DoesNotContain(d.Real, e => e.IsContainerCall);
        // The differential campaign's finding: named by the op kind and the first event that differs.
        Assert.Equal("model-divergence:command-mem:model-only-unmap", d.Signature);
    }

    [Fact]
    public void The_seed_bug_on_real_qemu_code_shows_in_its_own_trace_and_debians_qemu_is_clean()
    {
        // The same program (MEM off, then on) recorded on Debian's QEMU 7.2 and on a 7.2 built
        // with patches-under-test/qemu-7.2 (region_add skips the ram_device map; region_del does not).
        var debian = ImportedTrace.From(Path.Combine(Programs, "mem-toggle.log"));
        Assert.Empty(debian.Findings);
        Assert.Null(TraceConformance.Compare(debian.Events, Repo.Catalog.Create("qemu-7.2"), 0x1000));
        var patched = ImportedTrace.From(Path.Combine(Programs, "patched", "mem-toggle.log"));
        var f = Assert.Single(patched.Findings);
        Assert.Equal("asymmetric-unmap:never-mapped", f.Signature);
        Assert.Contains("unmap of 0xe4000000+0x4000000 that was never mapped (region_add [ram] at line", f.Summary);
        Assert.Contains("type1 answered success with nothing unmapped", f.Summary);
        // The unpatched model does not reproduce the patched QEMU: it maps the BAR the patch skipped.
        Assert.NotNull(TraceConformance.Compare(patched.Events, Repo.Catalog.Create("qemu-7.2"), 0x1000));
    }

    [Fact]
    public void A_divergence_is_minimized_with_the_comparison_as_the_judge()
    {
        // The lab's judge runs each candidate on a nested QEMU; here a stand-in that diverges
        // whenever the program turns MEM off: ddmin keeps that op alone.
        Op off = new SetCommandMem("mdev0", false);
        var program = new FuzzProgram([new MoveBar("mdev0", 0, 0xe800_0000), new SetCommandMem("mdev0", true), off, new BarSizing("mdev0", 2)]);
        const string signature = "model-divergence:command-mem:model-only-unmap";
        var minimizer = new Fuzzing.Minimizer(p => p.Ops.Contains(off) ? [signature] : []);
        Assert.Equal<Op>([off], minimizer.Minimize(program, signature).Ops);
        Assert.True(minimizer.Runs > 1);
    }

    [Fact]
    public void Boot_is_judged_by_what_it_leaves_and_a_missing_rom_mapping_is_a_step_0_divergence()
    {
        var entry = CorpusFile.Load(Path.Combine(Programs, "mem-toggle.yaml"));
        string log = File.ReadAllText(RealQemuComparison.RecordingOf(entry.Path));
        // The nested QEMU maps RAM whole, then unmaps it and maps the pieces around the legacy
        // ROM window: the order differs from the model's, what is left does not.
        Assert.Null(RealQemuComparison.FirstDivergence(entry.Program, entry.Profile, () => Repo.Catalog.Create("qemu-11.0"), "real.log", log));
        string biosMap = log.Split('\n').First(l => l.StartsWith("vfio_fuzz_type1_map_dma iova=0xfffc0000", StringComparison.Ordinal));
        var d = RealQemuComparison.FirstDivergence(entry.Program, entry.Profile, () => Repo.Catalog.Create("qemu-11.0"), "tampered.log", log.Replace(biosMap + "\n", ""));
        Assert.NotNull(d);
        Assert.Equal(0, d.Step);
        Assert.Contains(new StepEvent("map", 0xfffc_0000, 0x4_0000, "ok"), d.Model);
        Assert.DoesNotContain(new StepEvent("map", 0xfffc_0000, 0x4_0000, "ok"), d.Real);
    }

    [Fact]
    public void The_world_deletes_bars_one_transaction_each_in_bar_order_as_qemu_does()
    {
        // Found by the lab: with MEM cleared, QEMU 7.2 deleted BAR0 and then BAR2, each in its
        // own transaction; the World used to drop both in one (in address order: BAR2 first).
        var run = new Running.ProgramRunner(Profile.Q35Mbochs, () => Repo.Catalog.Create("qemu-7.2"), new Running.RunOptions(Trace: true))
            .Run(new FuzzProgram([new SetCommandMem("mdev0", false)]));
        var step = ListenerSteps.FromModelTrace(run.Trace)[1];
        Assert.Equal(
            [new StepEvent("region_del", 0xe400_0000, 0xe7ff_ffff), new StepEvent("unmap", 0xe400_0000, 0x400_0000, "ok unmapped=0x4000000"),
             new StepEvent("SKIPPING region_del", 0xe000_2000, 0xe000_2fff)],
            step);
    }

    [Fact]
    public void A_recording_cut_short_is_an_input_error_naming_the_file()
    {
        var entry = CorpusFile.Load(Path.Combine(Programs, "bar-move.yaml"));
        string log = File.ReadAllText(RealQemuComparison.RecordingOf(entry.Path));
        string cut = log[..log.IndexOf("pci_cfg_read mch 00:00.0 @0x2c", StringComparison.Ordinal)];
        var e = Assert.Throws<TraceFormatException>(() =>
            RealQemuComparison.FirstDivergence(entry.Program, entry.Profile, () => Repo.Catalog.Create("qemu-11.0"), "cut.log", cut));
        Assert.StartsWith("cut.log: 0 op marker(s) for 5 op(s)", e.Message);
    }

    [Fact]
    public void Ops_without_a_guest_visible_form_are_skipped_with_the_reason()
    {
        var program = new FuzzProgram([new DeviceReset("mdev0"), new DeviceInitDone("mdev0"), new SetCommandMem("mdev0", false)]);
        var nested = RealQemuComparison.Translate(program, Profile.Q35Mbochs);
        Assert.Equal<Op>([new SetCommandMem("mdev0", false)], nested.Runnable.Ops);
        Assert.Equal(["device-reset", "device-init-done"], nested.Skipped.Select(s => s.Op.Name));
        Assert.All(nested.Skipped, s => Assert.Contains("no guest-visible form", s.Why));
    }

    [Fact]
    public void The_shims_container_calls_read_as_type1_events()
    {
        var read = TraceReader.Parse("shim.log",
            "vfio_fuzz_type1_map_dma iova=0xe4000000 size=0x4000000 vaddr=0x7f3d4fe00000 flags=0x3 ret=0 errno=0\n" +
            "vfio_fuzz_type1_unmap_dma iova=0xe4000000 size=0x4000000 unmapped=0x0 flags=0x0 ret=-1 errno=22\n");
        Assert.Equal(new Type1MapDma(1, 0xe400_0000, 0x400_0000, 0x7f3d_4fe0_0000, 0), TraceArgs.Read(read.Events[0]));
        Assert.Equal(new Type1UnmapDma(2, 0xe400_0000, 0x400_0000, 0, 22), TraceArgs.Read(read.Events[1]));
    }

    [Fact]
    public void A_dimm_off_a_2_MiB_boundary_is_refused_on_the_nested_machine_as_qemu_refuses_it()
    {
        // QEMU 7.2 q35 answered device_add with "address must be aligned to 0x200000 bytes".
        var world = new World(Profile.Q35Mbochs);
        var e = Assert.Throws<ProgramException>(() => world.Apply(new MapRegion("dimm0", World.HotplugBase + 0x1000), IgnoreWorldEvents.Instance));
        Assert.Contains("0x200000 boundaries", e.Message);
        // The decoder never emits one: every map-region it decodes on this profile is aligned.
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[32];
            rng.NextBytes(bytes);
            foreach (var op in ProgramDecoder.Decode(bytes, Profile.Q35Mbochs).Ops.OfType<MapRegion>())
                Assert.Equal(0UL, op.Gpa % (2UL << 20));
        }
    }

    [Fact]
    public void A_dimm_over_a_plugged_dimm_is_refused_as_qemu_refuses_it_and_never_decoded()
    {
        // The lab's differential campaign (seed 1): QEMU 7.2 answered device_add with "address
        // range conflicts with memory device id='dimm0'" where the World had plugged both.
        var world = new World(Profile.Q35Mbochs);
        world.Apply(new MapRegion("dimm0", 0x2_4000_0000), IgnoreWorldEvents.Instance);
        var e = Assert.Throws<ProgramException>(() => world.Apply(new MapRegion("dimm1", 0x2_4000_0000 + (256UL << 20)), IgnoreWorldEvents.Instance));
        Assert.Contains("address range conflicts with memory device id='dimm0'", e.Message);
        world.Apply(new MapRegion("dimm1", 0x2_4000_0000 + (512UL << 20)), IgnoreWorldEvents.Instance);   // end to end is fine
        var rng = new Random(11);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[48];
            rng.NextBytes(bytes);
            ProgramDecoder.Decode(bytes, Profile.Q35Mbochs);   // would throw on a conflicting plug
        }
    }

    [Fact]
    public void On_q35_system_memory_hides_a_bar_and_a_bar_hides_the_roms_of_the_pci_space()
    {
        // Seen in the lab: QEMU 7.2 q35 showed nothing of a BAR moved onto RAM at 64 MiB.
        var world = new World(Profile.Q35Mbochs);
        world.Apply(new MoveBar("mdev0", 0, 0x400_0000), IgnoreWorldEvents.Instance);
        Assert.DoesNotContain(world.View.Sections, s => s.Mr.Name == "mdev0 BAR0 mmaps[0]");
        Assert.Contains(world.View.Sections, s => s.Mr.Role == Memory.RegionRole.GuestRam && s.Gpa == 0x10_0000 && s.Size == 0x7f0_0000);
        world.Apply(new MoveBar("mdev0", 0, 0xe800_0000), IgnoreWorldEvents.Instance);
        Assert.Contains(world.View.Sections, s => s.Mr.Name == "mdev0 BAR0 mmaps[0]" && s.Gpa == 0xe800_0000);
        // Seen in the lab's differential campaign: past the IOAPIC's page the PCI space shows
        // again (the IOAPIC, HPET and MSI MMIO stay above it), and a BAR hides pc.bios, which
        // lives in the PCI space itself.
        Memory.Section? Bar2() => world.View.Sections.Cast<Memory.Section?>().FirstOrDefault(s => s!.Value.Mr.Name == "mdev0 BAR2");
        world.Apply(new MoveBar("mdev0", 2, 0xfec0_0000), IgnoreWorldEvents.Instance);
        Assert.Null(Bar2());   // under the IOAPIC's page
        world.Apply(new MoveBar("mdev0", 2, 0xfec0_1000), IgnoreWorldEvents.Instance);
        Assert.Equal(0xfec0_1000UL, Bar2()?.Gpa);
        world.Apply(new MoveBar("mdev0", 2, 0xfffc_0000), IgnoreWorldEvents.Instance);
        Assert.Equal(0xfffc_0000UL, Bar2()?.Gpa);
        Assert.Contains(world.View.Sections, s => s.Mr.Name == "pc.bios" && s.Gpa == 0xfffc_1000 && s.OffsetInRegion == 0x1000);
    }
}

using System.Collections.Immutable;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Each oracle fires on a minimal program against a target that breaks its rule,
/// and stays quiet on a target that keeps it.</summary>
public class OracleTests
{
    const ulong CxlDpa = 0x80_0000_0000UL;       // cxl0's DPA where QEMU commits HDM decoder 0
    const ulong NvlinkAperture = 0x102_0000_0000UL;

    static RunResult Run(Profile profile, string targetId, params Op[] ops) =>
        new ProgramRunner(profile, () => Repo.Catalog.Create(targetId)).Run(new FuzzProgram([.. ops]));

    static RunResult Run(Profile profile, Func<ListenerTarget> target, params Op[] ops) =>
        new ProgramRunner(profile, target).Run(new FuzzProgram([.. ops]));

    [Fact]
    public void Unmap_of_a_section_skipped_on_add_is_reported_as_asymmetric_and_harmless()
    {
        var result = Run(Profile.VrCxlType2, "nv-2e963ff+e227a6b", new HdmDecommit("cxl0"));
        var finding = Assert.Single(result.Findings, f => f.Signature == "asymmetric-unmap:never-mapped:cxl-dpa");
        Assert.Equal(1, finding.Step);
        Assert.StartsWith("harmless", finding.Effect);
    }

    /// <summary>What `bench` weighs the oracles' share with: the same run with none attached.
    /// Every finding of this program is an oracle's, so without them it is clean.</summary>
    [Fact]
    public void A_run_with_no_oracle_attached_reports_nothing_the_oracles_would()
    {
        var program = new FuzzProgram([new HdmDecommit("cxl0")]);
        Func<ListenerTarget> target = () => Repo.Catalog.Create("nv-2e963ff+e227a6b");
        Assert.NotEmpty(new ProgramRunner(Profile.VrCxlType2, target).Run(program).Findings);
        Assert.True(new ProgramRunner(Profile.VrCxlType2, target, new RunOptions(Oracles: () => [])).Run(program).Clean);
    }

    [Fact]
    public void The_review_fix_and_upstream_are_symmetric_on_the_same_program()
    {
        Assert.DoesNotContain(Run(Profile.VrCxlType2, "nv-2e963ff-fixed", new HdmDecommit("cxl0")).Findings,
            f => f.Kind == "asymmetric-unmap");
        Assert.True(Run(Profile.VrCxlType2, "qemu-11.0", new HdmDecommit("cxl0")).Clean);
    }

    [Fact]
    public void Mapping_left_after_every_section_is_gone_is_a_leak()
    {
        var result = Run(Profile.VrCxlType2, () => new NeverUnmaps());
        var leak = Assert.Single(result.Findings, f => f.Signature.StartsWith("asymmetric-unmap:leaked-mapping"));
        Assert.Equal(1, leak.Step);   // teardown of an empty program
    }

    [Fact]
    public void Re_adding_over_a_deferred_unmap_is_a_double_map_and_loses_stage2()
    {
        // The reset drops the DPA (unmap deferred) and the rescan after it maps it back at the
        // same base; init-done then issues the deferred unmap.
        var result = Run(Profile.VrCxlType2, "proposed-defer-unmap", new DeviceReset("cxl0"), new DeviceInitDone("cxl0"));
        Assert.Contains(result.Findings, f => f.Signature == "asymmetric-unmap:double-map:cxl-dpa" && f.Step == 1);
        Assert.Contains(result.Findings, f => f.Signature == "missing-stage2:cxl-dpa" && f.Step == 2);
    }

    [Fact]
    public void Skipped_nvlink_aperture_is_missing_from_stage2_and_an_ats_access_livelocks()
    {
        var result = Run(Profile.Gb200Nvlink, "nv-d814a45", new AtsAccess("gpu0", NvlinkAperture));
        Assert.Contains(result.Findings, f => f.Signature == "missing-stage2:nvlink-aperture" && f.Step == 0);
        Assert.Contains(result.Findings, f => f.Signature == "missing-stage2:ats-fault-livelock:nvlink-aperture" && f.Step == 1);
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", new AtsAccess("gpu0", NvlinkAperture)).Clean);
    }

    [Fact]
    public void Ats_access_to_a_gpa_with_no_memory_is_not_a_listener_finding() =>
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", new AtsAccess("gpu0", 0x7000_0000_0000UL)).Clean);

    [Fact]
    public void Unmapping_cxl_dpa_while_the_device_initializes_times_out_unless_deferred()
    {
        // A guest FLR: the kernel revokes the DPA mapping and the VMM drops the DPA while the
        // device resets; then the guest's driver moves the decoder while the device initializes.
        Op[] ops = [new DeviceFlr("cxl0"), new HdmDecommit("cxl0"), new HdmCommit("cxl0", CxlDpa + HdmSpec.Granule)];
        var upstream = Run(Profile.VrCxlType2, "qemu-11.0", ops);
        Assert.Equal([("timeout:atc-inv:cxl-type2", 1)], upstream.Findings.Select(f => (f.Signature, f.Step)));
        Assert.DoesNotContain(Run(Profile.VrCxlType2, "proposed-defer-unmap", [.. ops, new DeviceInitDone("cxl0")]).Findings,
            f => f.Kind == "timeout");
        // Running, the device answers: the same decoder moves are clean upstream.
        Assert.True(Run(Profile.VrCxlType2, "qemu-11.0", ops[1..]).Clean);
    }

    [Fact]
    public void Unmapping_while_the_device_runs_sends_an_invalidation_it_answers() =>
        Assert.True(Run(Profile.VrCxlType2, "qemu-11.0", new HdmDecommit("cxl0"), new HdmCommit("cxl0", CxlDpa + HdmSpec.Granule)).Clean);

    [Fact]
    public void A_gpu_that_answers_invalidations_during_reset_does_not_time_out() =>
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0",
            new DeviceReset("gpu0"), new SetCommandMem("gpu0", true), new SetCommandMem("gpu0", false)).Clean);

    [Fact]
    public void A_misaligned_map_is_an_unexpected_errno()
    {
        var result = Run(Profile.VrCxlType2, () => new MisalignedMap());
        Assert.Contains(result.Findings, f => f.Signature == "unexpected-errno:map:EINVAL");
    }

    [Fact]
    public void A_target_that_throws_is_a_crash_finding_and_the_run_stops()
    {
        var result = Run(Profile.VrCxlType2, () => new ThrowsOnDel(), new SetCommandMem("cxl0", false), new SetCommandMem("cxl0", true));
        var crash = Assert.Single(result.Findings);
        Assert.Equal("crash:InvalidOperationException", crash.Signature);
        Assert.Equal(1, result.Steps);
    }

    [Fact]
    public void A_failed_ram_map_at_runtime_aborts_qemu()
    {
        // Plug a DIMM over the reserved MSI window: the kernel refuses, and a RAM map failure
        // after initialization is hw_error.
        var result = Run(Profile.VrCxlType2, "qemu-11.0", new MapRegion("dimm1", 0x800_0000UL));
        Assert.Contains(result.Findings, f => f.Signature == "crash:qemu-abort");
        Assert.Contains(result.Findings, f => f.Signature == "unexpected-errno:map:EINVAL");
    }

    [Fact]
    public void A_program_past_its_watchdog_budget_is_a_timeout_and_stops()
    {
        var runner = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Watchdog: TimeSpan.Zero));
        var result = runner.Run(new FuzzProgram([new SetCommandMem("nic0", false), new SetCommandMem("nic0", true)]));
        var finding = Assert.Single(result.Findings);
        Assert.Equal(("timeout:watchdog", 1), (finding.Signature, finding.Step));
    }

    [Fact]
    public void Trace_lines_use_qemus_trace_event_format()
    {
        var result = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true))
            .Run(new FuzzProgram([new HdmDecommit("cxl0")]));
        Assert.Contains("vfio_listener_region_add_ram region_add [ram] 0x40000000 - 0xbfffffff [0x7f0000000000]", result.Trace);
        Assert.Contains(result.Trace, l => l.StartsWith("iommufd_backend_map_file_dma  iommufd=3 ioas=1 iova=0x8000000000 size=0x10000000 fd=", StringComparison.Ordinal));
        Assert.Contains("vfio_listener_region_del region_del 0x8000000000 - 0x800fffffff", result.Trace);
        Assert.Contains("iommufd_backend_unmap_dma  iommufd=3 ioas=1 iova=0x8000000000 size=0x10000000 (0)", result.Trace);
    }

    // The vIOMMU path: a guest IOTLB entry onto a page of the CXL DPA, 4 GiB into the IOVA space.
    const ulong Iova = 0x1_0000_0000UL;
    static readonly Op[] MapDpaThroughViommu = [new SetViommu(true), new IotlbMap(Iova, CxlDpa, 0x1000, Writable: true)];

    [Fact]
    public void A_notify_map_that_skips_the_dpa_leaves_the_guests_iova_out_of_stage2_and_its_ats_livelocks()
    {
        var result = Run(Profile.VrCxlType2, "nv-2e963ff-notify", [.. MapDpaThroughViommu, new AtsAccess("cxl0", Iova + 0x800)]);
        Assert.Equal(2, result.Findings.Single(f => f.Signature == "missing-stage2:viommu:cxl-dpa").Step);
        Assert.Equal(3, result.Findings.Single(f => f.Signature == "missing-stage2:ats-fault-livelock:cxl-dpa").Step);
        // The same program on the target without the notify skip maps the IOVA: no vIOMMU finding.
        var plain = Run(Profile.VrCxlType2, "nv-2e963ff+e227a6b", [.. MapDpaThroughViommu, new AtsAccess("cxl0", Iova + 0x800)]);
        Assert.DoesNotContain(plain.Findings, f => f.Signature.Contains("viommu") || f.Signature.Contains("livelock"));
    }

    [Fact]
    public void An_iotlb_unmap_of_an_iova_the_notifier_never_mapped_is_asymmetric()
    {
        var result = Run(Profile.VrCxlType2, "nv-2e963ff-notify", [.. MapDpaThroughViommu, new IotlbUnmap(Iova)]);
        var finding = result.Findings.Single(f => f.Signature == "asymmetric-unmap:iotlb-never-mapped:cxl-dpa");
        Assert.Equal(3, finding.Step);
        Assert.StartsWith("harmless", finding.Effect);
        Assert.DoesNotContain(Run(Profile.VrCxlType2, "nv-2e963ff+e227a6b", [.. MapDpaThroughViommu, new IotlbUnmap(Iova)]).Findings,
            f => f.Signature.StartsWith("asymmetric-unmap:iotlb", StringComparison.Ordinal));
    }

    [Fact]
    public void Upstream_refusing_a_map_of_mmio_is_not_an_asymmetry_when_the_guest_unmaps_it()
    {
        // cxl0's BAR0 MSI-X table page is MMIO: QEMU logs "iommu map to non memory area" and
        // maps nothing; the guest's unmap then reaches the IOAS alone, which is expected.
        var msix = Run(Profile.VrCxlType2, "qemu-11.0", new SetViommu(true), new IotlbMap(Iova, 0x100_0001_2000UL, 0x1000, false), new IotlbUnmap(Iova));
        Assert.True(msix.Clean, string.Join("; ", msix.Signatures));
    }

    [Fact]
    public void A_notifier_left_registered_after_its_iommu_section_is_gone_is_found()
    {
        var result = Run(Profile.VrCxlType2, () => new KeepsIommuNotifier(), new SetViommu(true), new SetViommu(false));
        Assert.Equal(2, result.Findings.Single(f => f.Signature == "asymmetric-unmap:leaked-notifier:viommu").Step);
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", new SetViommu(true), new SetViommu(false), new SetViommu(true)).Clean);
    }

    [Fact]
    public void Enabling_the_viommu_replays_what_the_guest_mapped_and_the_window_unmap_answers_it()
    {
        // Map through the vIOMMU, switch it off (one big unmap of the window) and on again
        // (the notifier's replay maps the entry again): upstream stays symmetric throughout.
        var result = new ProgramRunner(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true))
            .Run(new FuzzProgram([new SetViommu(true), new IotlbMap(Iova, 0x4000_0000UL, 0x10000, true), new SetViommu(false), new SetViommu(true), new IotlbUnmap(Iova)]));
        Assert.True(result.Clean, string.Join("; ", result.Signatures));
        Assert.Equal(2, result.Trace.Count(l => l.StartsWith("iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x100000000 size=0x10000", StringComparison.Ordinal)));
    }

    [Fact]
    public void An_unref_without_its_ref_and_a_ref_left_at_teardown_are_found_per_owner()
    {
        var underflow = Run(Profile.VrCxlType2, () => new NoRefForRamDevice(), new SetCommandMem("nic0", false));
        Assert.Equal(1, underflow.Findings.Single(f => f.Signature == "asymmetric-unmap:ref-underflow:bar-mmap").Step);
        var leak = Run(Profile.VrCxlType2, () => new KeepsRamRef(), new MapRegion("dimm0", World.HotplugBase), new UnmapRegion("dimm0"));
        Assert.Equal(3, leak.Findings.Single(f => f.Signature == "asymmetric-unmap:ref-leak:guest-ram").Step);   // teardown
        // Upstream balances refs on every path, the skipping patches included.
        foreach (var target in new[] { "qemu-11.0", "nv-2e963ff+e227a6b", "nv-d814a45" })
            Assert.DoesNotContain(Run(Profile.VrCxlType2, target, new SetCommandMem("cxl0", false), new SetCommandMem("cxl0", true)).Findings,
                f => f.Signature.Contains(":ref-"));
    }

    [Fact]
    public void Virtio_mem_blocks_and_the_ioas_must_agree_populate_for_populate_and_discard_for_discard()
    {
        var stale = Run(Profile.Gb200Nvlink, () => new IgnoresDiscard(), new VmemPlug(3), new VmemUnplug(3));
        Assert.Equal(2, stale.Findings.Single(f => f.Signature == "asymmetric-unmap:rdm-discarded-mapped:guest-ram").Step);
        var half = Run(Profile.Gb200Nvlink, () => new SkipsOddBlocks(), new VmemPlug(7));
        Assert.Equal(1, half.Findings.Single(f => f.Signature == "missing-stage2:rdm-populated:guest-ram").Step);
        // Upstream maps each plugged block, unmaps each unplugged one, and the section's
        // final discard (vIOMMU on, teardown) answers what is left.
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", new VmemPlug(3), new VmemPlug(4), new VmemUnplug(3), new SetViommu(true), new SetViommu(false)).Clean);
    }

    [Fact]
    public void An_unmap_during_migration_must_read_the_dirty_bits_first()
    {
        // The guest turns its vIOMMU on mid-migration: every RAM section, the dimm's too, gets region_del.
        Op[] ops = [new MapRegion("dimm0", World.HotplugBase), new SetDirtyTracking(true), new SetViommu(true)];
        var lost = Run(Profile.Gb200Nvlink, () => new NoDirtySyncOnDel(), ops);
        Assert.Equal(3, lost.Findings.Single(f => f.Signature == "dirty-lost:unmap-without-sync:guest-ram").Step);
        // Upstream reads them first (where it marks them is the next test's).
        var upstream = new ProgramRunner(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true)).Run(new FuzzProgram([.. ops]));
        Assert.DoesNotContain(upstream.Signatures, sig => sig.StartsWith("dirty-lost:unmap-without-sync", StringComparison.Ordinal));
        Assert.Contains(upstream.Trace, l => l.StartsWith("iommufd_backend_get_dirty_bitmap  iommufd=3 hwpt=2 iova=0x100000000 size=0x20000000", StringComparison.Ordinal));
        // Without migration the same target loses nothing.
        Assert.True(Run(Profile.Gb200Nvlink, () => new NoDirtySyncOnDel(), new MapRegion("dimm0", World.HotplugBase), new SetViommu(true)).Clean);
    }

    [Fact]
    public void Dirty_bits_read_at_region_del_land_at_the_gpa_taken_as_a_ram_addr()
    {
        Op[] ops = [new SetDirtyTracking(true), new SetViommu(true)];
        // gb200's RAM is at GPA 1 GiB and is the first RAMBlock (ram_addr 0): upstream's identity
        // entry marks its dirty bits 1 GiB off.
        var upstream = Run(Profile.Gb200Nvlink, "qemu-11.0", ops);
        var finding = Assert.Single(upstream.Findings);
        Assert.Equal(("dirty-lost:misattributed:guest-ram", 2), (finding.Signature, finding.Step));
        Assert.Contains("ram_addr 0x40000000", finding.Summary);
        // The same region_del with the entry's translated_addr at the section's ram_addr: quiet.
        Assert.True(Run(Profile.Gb200Nvlink, () => new DirtyEntryAtRamAddr(), ops).Clean);
        // q35's RAM starts at GPA 0, where its ram_addr is: the identity entry is right there.
        Assert.True(Run(Profile.Q35Mbochs, "qemu-11.0", ops).Clean);
    }

    [Fact]
    public void A_virtio_mem_section_deleted_during_migration_is_upstreams_own_gap()
    {
        // The vIOMMU switch deletes the virtio-mem section; its listener's discard of the plugged
        // block unmaps it with no IOTLB entry: upstream reads no dirty bits there.
        var gap = Run(Profile.Gb200Nvlink, "qemu-11.0", new VmemPlug(2), new SetDirtyTracking(true), new SetViommu(true));
        Assert.Equal(3, gap.Findings.Single(f => f.Signature == "dirty-lost:upstream-gap:guest-ram").Step);
        Assert.Contains("vfio_ram_discard_notify_discard", gap.Findings.Single(f => f.Signature == "dirty-lost:upstream-gap:guest-ram").Explanation);
        // Nothing plugged, or no migration: nothing to lose.
        Assert.DoesNotContain("dirty-lost:upstream-gap:guest-ram", Run(Profile.Gb200Nvlink, "qemu-11.0", new SetDirtyTracking(true), new SetViommu(true)).Signatures);
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", new VmemPlug(2), new SetViommu(true)).Clean);
    }

    [Fact]
    public void Qemu_refuses_memory_hotplug_and_unplug_while_migrating()
    {
        // device_add and device_del are refused while migrating (softmmu/qdev-monitor.c), and
        // virtio-mem answers plug and unplug requests BUSY (virtio_mem_is_busy): the World
        // refuses the program, and the decoder never makes those ops then.
        foreach (Op op in new Op[] { new UnmapRegion("dimm0"), new MapRegion("dimm1", 0x2_0000_0000UL), new VmemPlug(2) })
        {
            var e = Assert.Throws<ProgramException>(() => Run(Profile.Gb200Nvlink, "qemu-11.0", new MapRegion("dimm0", World.HotplugBase), new SetDirtyTracking(true), op));
            Assert.Contains("during migration", e.Message);
        }
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", new MapRegion("dimm0", World.HotplugBase), new SetDirtyTracking(true), new SetDirtyTracking(false), new UnmapRegion("dimm0")).Clean);
    }

    [Fact]
    public void Every_target_is_discovered_with_its_id_and_branch()
    {
        var ids = Repo.Catalog.Targets.Select(t => t.Id).ToImmutableSortedSet();
        Assert.Equal(["nv-2e963ff+e227a6b", "nv-2e963ff-fixed", "nv-2e963ff-notify", "nv-cdf5e75", "nv-d814a45", "proposed-defer-unmap", "qemu-11.0", "qemu-7.2"], ids);
        // QEMU 7.2 predates iommufd: its target has the type1 container alone.
        Assert.Equal([ContainerKind.Type1], Repo.Catalog.Targets.Where(t => t.OnlyContainer is not null).Select(t => t.OnlyContainer!.Value));
        Assert.All(Repo.Catalog.Targets.Where(t => t.Id.StartsWith("nv-")), t => Assert.Equal("nvidia_stable-11.0", t.Branch));
    }

    [Fact]
    public void D814a45_trace_gives_the_real_reason_for_each_skip()
    {
        var result = new ProgramRunner(Profile.Gb200Nvlink, () => Repo.Catalog.Create("nv-d814a45"), new RunOptions(Trace: true)).Run(FuzzProgram.Empty);
        var skips = result.Trace.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("vfio_listener_region_add_no_dma_map", StringComparison.Ordinal)).ToArray();
        // Every event d814a45's own check emitted is followed by the note naming the owner;
        // the upstream alignment refusals (host-page trims) are not.
        var owned = skips.Where(x => result.Trace[x.i + 1].StartsWith("# nv-d814a45:", StringComparison.Ordinal)).ToArray();
        Assert.Contains(owned, x => x.l.Contains("gpu0 BAR4"));   // the NVLink aperture: aligned, skipped for its owner
        Assert.All(owned, x => Assert.Contains("because a VFIO device (", result.Trace[x.i + 1]));
        Assert.True(owned.Length < skips.Length, "the host-page trims of nic0's MSI-X-split BAR0 are upstream's own refusals, without the note");
        Assert.DoesNotContain(new ProgramRunner(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true)).Run(FuzzProgram.Empty).Trace,
            l => l.StartsWith("# nv-d814a45:", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unaligned_section_is_reported_as_vfio_listener_valid_section_reports_it()
    {
        var host = new HostMemory();
        var ram = new Memory.MemoryRegion("ram-below-4g", Memory.RegionKind.Ram, 0x10_0000, Memory.RegionRole.GuestRam, null);
        host.Adopt(ram, 0x7f00_0000_0000);
        var trace = new TraceLog();
        var target = Repo.Catalog.Create("qemu-11.0");
        target.Register(new ListenerEnvironment(new Iommufd.SimIoas(Profile.Gb200Nvlink, host), host, 0x10000, [], trace));
        // 64 KiB host pages: a section at 0x1000 whose offset in its region is 0 is out of phase.
        target.RegionAdd(new Memory.Section(ram, 0x4000_1000, 0x1_0000, 0, false));
        Assert.Contains(trace.Lines, l => l.StartsWith("qemu-system-aarch64: vfio_listener_valid_section received unaligned region ram-below-4g iova=0x40001000", StringComparison.Ordinal));
    }

    [Fact]
    public void An_iotlb_map_onto_an_unplugged_virtio_mem_block_is_refused_and_its_unmap_is_no_finding()
    {
        const ulong Iova = 0x1_0000_0000UL;
        ulong block3 = VirtioMem.Gpa + 3 * VirtioMem.BlockSize;
        Op[] unplugged = [new SetViommu(true), new IotlbMap(Iova, block3, 0x1000, Writable: true), new IotlbUnmap(Iova)];
        var refused = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true)).Run(new FuzzProgram([.. unplugged]));
        Assert.Contains(refused.Trace, l => l.EndsWith($"iommu map to discarded memory (e.g., unplugged via virtio-mem): {block3:x}", StringComparison.Ordinal));
        Assert.DoesNotContain(refused.Trace, l => l.StartsWith($"iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x{Iova:x} ", StringComparison.Ordinal));
        Assert.True(refused.Clean, string.Join(", ", refused.Signatures));   // the guest's UNMAP of a refused MAP is not a skipped MAP
        // Plugged first, the same MAP is mapped.
        var plugged = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true))
            .Run(new FuzzProgram([new VmemPlug(3), .. unplugged]));
        Assert.Contains(plugged.Trace, l => l.StartsWith($"iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x{Iova:x} ", StringComparison.Ordinal));
        Assert.True(plugged.Clean);
    }

    [Fact]
    public void A_double_iotlb_unmap_has_its_own_signature_and_text()
    {
        const ulong Iova = 0x1_0000_0000UL;
        Op[] ops = [new SetViommu(true), new IotlbMap(Iova, 0x4000_0000UL, 0x1000, Writable: true), new IotlbUnmap(Iova)];
        var twice = Run(Profile.VrCxlType2, () => new DoubleIotlbUnmap(), ops);
        var f = Assert.Single(twice.Findings, x => x.Signature.StartsWith("asymmetric-unmap:iotlb-double-unmap:", StringComparison.Ordinal));
        Assert.Equal(3, f.Step);
        Assert.Contains("already removed it", f.Summary);
        Assert.DoesNotContain(twice.Findings, x => x.Signature.Contains("iotlb-never-mapped"));   // the MAP did reach the IOAS
        Assert.True(Run(Profile.VrCxlType2, "qemu-11.0", ops).Clean);
        // A skip on the MAP side is still what it was.
        Assert.Contains(Run(Profile.VrCxlType2, "nv-2e963ff-notify", [new SetViommu(true), new IotlbMap(Iova, CxlDpa, 0x1000, Writable: true), new IotlbUnmap(Iova)]).Findings,
            x => x.Signature == "asymmetric-unmap:iotlb-never-mapped:cxl-dpa");
    }

    [Fact]
    public void A_del_that_ignores_the_min_page_test_is_found_where_the_iommu_page_exceeds_the_host_page()
    {
        // nic0's BAR3 is 4 KiB: with a 64 KiB (or 16 KiB) SMMU granule region_add skips it
        // (no_dma_map) and upstream's region_del mirrors that; a del without the mirror unmaps it.
        foreach (var profile in new[] { Profile.VrCxlType2Smmu64k, Profile.VrCxlType2Smmu16k })
        {
            var broken = Run(profile, () => new DelIgnoresMinPage(), new SetCommandMem("nic0", false));
            Assert.Contains(broken.Findings, f => f.Signature == "asymmetric-unmap:never-mapped:bar-mmap" && f.Step == 1);
            Assert.True(Run(profile, "qemu-11.0", new SetCommandMem("nic0", false), new SetCommandMem("nic0", true)).Clean);
        }
        // Where the IOMMU page is the host page the branch never decides: nothing to find.
        Assert.True(Run(Profile.VrCxlType2, () => new DelIgnoresMinPage(), new SetCommandMem("nic0", false)).Clean);
    }

    [Fact]
    public void A_sub_page_msix_table_splits_the_mmap_where_only_matching_trims_stay_symmetric()
    {
        // cxl0's 8-entry table is 128 bytes at 0x2000 of BAR0: the mmap piece after it starts
        // 0x80 into a page. Upstream trims it to the next page on add and on del.
        var upstream = new ProgramRunner(Profile.VrCxlType2Subpage, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true))
            .Run(new FuzzProgram([new SetCommandMem("cxl0", false), new SetCommandMem("cxl0", true)]));
        Assert.True(upstream.Clean);
        Assert.Contains(upstream.Trace, l => l.StartsWith("vfio_listener_region_skip SKIPPING region_add 0x10000012000 - 0x1000001207f", StringComparison.Ordinal));
        Assert.Contains(upstream.Trace, l => l.StartsWith("vfio_listener_region_add_ram region_add [ram] 0x10000013000 - 0x1000001ffff", StringComparison.Ordinal));
        // A del that rounds the start down unmaps the table's page it never mapped: found here,
        // not where the table fills its page.
        var broken = Run(Profile.VrCxlType2Subpage, () => new DelRoundsStartDown(), new SetCommandMem("cxl0", false));
        Assert.Contains(broken.Findings, f => f.Signature == "asymmetric-unmap:size-mismatch:bar-mmap" && f.Step == 1);
        Assert.True(Run(Profile.VrCxlType2, () => new DelRoundsStartDown(), new SetCommandMem("cxl0", false)).Clean);
    }

    [Fact]
    public void A_teardown_finding_on_a_section_live_since_boot_names_the_registration_replay()
    {
        // The empty program's reproducer: boot and teardown alone still point at the cause.
        var empty = Run(Profile.VrCxlType2, "nv-2e963ff+e227a6b");
        var f = Assert.Single(empty.Findings, x => x.Signature == "asymmetric-unmap:never-mapped:cxl-dpa");
        Assert.Contains("cxl0 cxl-dpa", f.Summary);
        Assert.Contains("there from boot, and its region_add in the listener's registration replay asked for no map", f.Summary);
        // Deleted at a step (the guest decommits the decoder): no claim about boot.
        var decommit = Run(Profile.VrCxlType2, "nv-2e963ff+e227a6b", new HdmDecommit("cxl0"));
        Assert.DoesNotContain("from boot", Assert.Single(decommit.Findings, x => x.Signature == "asymmetric-unmap:never-mapped:cxl-dpa").Summary);
    }

    [Fact]
    public void An_unmap_shorter_than_its_map_is_a_size_mismatch_not_a_never_mapped_range()
    {
        var result = Run(Profile.VrCxlType2, () => new DelTrimOffByOne(), new SetCommandMem("nic0", false));
        var f = Assert.Single(result.Findings, x => x.Signature == "asymmetric-unmap:size-mismatch:bar-mmap");
        Assert.Equal(1, f.Step);
        Assert.Contains("is only part of the map of", f.Summary);
        Assert.DoesNotContain(result.Findings, x => x.Signature.Contains("never-mapped"));
        Assert.True(Run(Profile.VrCxlType2, "qemu-11.0", new SetCommandMem("nic0", false)).Clean);
    }

    [Fact]
    public void A_viommu_map_is_read_only_by_the_iotlb_permission_or_a_rom_not_by_a_read_only_placement()
    {
        string MapLine(Op[] ops) => new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true))
            .Run(new FuzzProgram([.. ops])).Trace.Last(l => l.StartsWith("iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x100000000 ", StringComparison.Ordinal));
        Op[] dimm = [new MapRegion("dimm0", World.HotplugBase), new SetReadOnly("dimm0", true), new SetViommu(true)];
        // The chipset made the DIMM's placement read-only; the terminal region is RAM: writable.
        Assert.Contains("readonly=0", MapLine([.. dimm, new IotlbMap(Iova, World.HotplugBase, 0x1000, Writable: true)]));
        Assert.Contains("readonly=1", MapLine([.. dimm, new IotlbMap(Iova, World.HotplugBase, 0x1000, Writable: false)]));
        // A ROM is read-only whatever the guest's permission says.
        Op[] rom = [new MapRegion("rom0", World.HotplugBase), new SetViommu(true), new IotlbMap(Iova, World.HotplugBase, 0x1000, Writable: true)];
        Assert.Contains("readonly=1", MapLine(rom));
    }

    [Fact]
    public void An_iotlb_entry_the_guest_unmapped_and_the_window_deletion_unmaps_again_is_a_double_unmap()
    {
        Op[] ops = [new SetViommu(true), new IotlbMap(Iova, 0x4000_0000UL, 0x1000, Writable: true), new IotlbUnmap(Iova), new SetViommu(false)];
        var stale = Run(Profile.VrCxlType2, () => new StaleIotlbListAtWindowDeletion(), ops);
        var f = Assert.Single(stale.Findings, x => x.Signature == "asymmetric-unmap:iotlb-double-unmap:guest-ram");
        Assert.Equal(4, f.Step);
        Assert.Contains("at the deletion of", f.Summary);
        // An entry still live when the window goes is unmapped once by the same list: no finding.
        Assert.True(Run(Profile.VrCxlType2, () => new StaleIotlbListAtWindowDeletion(), ops[0], ops[1], ops[3]).Clean);
        Assert.True(Run(Profile.VrCxlType2, "qemu-11.0", ops).Clean);
    }
}

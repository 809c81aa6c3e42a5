using VfioFuzz.Traces;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>QEMU trace logs in every shape people paste them are read to the same events;
/// the oracles find what the recording shows (with its line numbers); a listener model is
/// held to the recording call by call; bad input is one clear error.</summary>
public class TraceImportTests
{
    static string Fixture(string name) => Path.Combine(Repo.Root, "harness", "VfioFuzz.Tests", "Fixtures", "traces", name);

    static IEnumerable<(string Name, string Args)> Events(TraceReadResult r) => r.Events.Select(e => (e.Name, e.Args));

    [Fact]
    public void Pid_timestamp_prefixes_read_to_the_same_events_as_bare_lines()
    {
        var bare = TraceReader.Read(Fixture("upstream-cxl-bare.log"));
        var pid = TraceReader.Read(Fixture("upstream-cxl-pid.log"));
        Assert.Equal(23, bare.Events.Count);
        Assert.Equal(Events(bare), Events(pid));
        Assert.Equal(bare.Events.Select(e => e.Line), pid.Events.Select(e => e.Line));
    }

    [Fact]
    public void Journald_prefixes_and_a_wrapped_quoted_mail_read_to_the_same_events()
    {
        var journald = TraceReader.Read(Fixture("cxl-skip-journald.log"));
        var mail = TraceReader.Read(Fixture("cxl-skip-mail.log"));
        Assert.Equal(8, journald.Events.Count);
        Assert.Equal(1, journald.LinesSkipped);   // the kernel's own line in the journal
        Assert.Equal(Events(journald), Events(mail));
        Assert.True(mail.LinesSkipped >= 4, "the mail's prose and the guest console lines are skipped");
    }

    [Theory]
    [InlineData("cxl-skip-journald.log", 7, 9)]
    [InlineData("cxl-skip-mail.log", 15, 18)]
    public void Skipped_on_add_and_unmapped_on_del_is_an_asymmetric_unmap_with_both_lines(string file, int skipLine, int unmapLine)
    {
        var trace = ImportedTrace.From(Fixture(file));
        var f = Assert.Single(trace.Findings);
        Assert.Equal("asymmetric-unmap:never-mapped", f.Signature);
        Assert.Contains(skipLine, f.Lines);
        Assert.Contains(unmapLine, f.Lines);
        Assert.Contains("unmap_dma_non_exist", f.Summary);
    }

    [Fact]
    public void Upstream_recording_passes_every_check()
    {
        Assert.Empty(ImportedTrace.From(Fixture("upstream-cxl-bare.log")).Findings);
    }

    [Fact]
    public void Upstream_target_reproduces_an_upstream_recording_exactly()
    {
        var trace = ImportedTrace.From(Fixture("upstream-cxl-bare.log"));
        Assert.Null(TraceConformance.Compare(trace.Events, Repo.Catalog.Create("qemu-11.0"), 4096));
    }

    [Fact]
    public void A_target_that_skips_bar_maps_diverges_at_the_first_bar_map()
    {
        var trace = ImportedTrace.From(Fixture("upstream-cxl-bare.log"));
        var d = TraceConformance.Compare(trace.Events, Repo.Catalog.Create("nv-d814a45"), 4096);
        Assert.NotNull(d);
        Assert.Equal(7, d.Line);
        Assert.Equal("line 8: map iova=0x10000000000 size=0x2000 addr=0x7f1200000000 readonly=0", Assert.Single(d.Recorded));
        Assert.Empty(d.Model);
    }

    [Fact]
    public void The_skip_patch_reproduces_its_own_recording()
    {
        var trace = ImportedTrace.From(Fixture("cxl-skip-journald.log"));
        Assert.Null(TraceConformance.Compare(trace.Events, Repo.Catalog.Create("nv-2e963ff+e227a6b"), 4096));
        Assert.NotNull(TraceConformance.Compare(trace.Events, Repo.Catalog.Create("qemu-11.0"), 4096));
    }

    [Fact]
    public void Overlapping_maps_leaked_mappings_and_unmapped_bars_are_found()
    {
        const string log = """
            vfio_region_mmap "0000:02:00.0 BAR 4 nvlink mmaps[0]" [0x0 - 0xffff] maps to 0x7f5000000000
            iommufd_backend_map_dma  iommufd=3 ioas=2 iova=0x40000000 size=0x10000 addr=0x7f0000000000 readonly=0 (0)
            iommufd_backend_map_dma  iommufd=3 ioas=2 iova=0x40008000 size=0x10000 addr=0x7f0000008000 readonly=0 (0)
            iommufd_backend_free_id  iommufd=3 id=2 (0)
            """;
        var read = TraceReader.Parse("inline.log", log);
        var findings = RecordingChecks.Run(read.Events.Select(TraceArgs.Read).OfType<TraceEvent>().ToArray());
        Assert.Equal(["asymmetric-unmap:double-map", "asymmetric-unmap:leaked-mapping", "missing-stage2:bar-never-mapped"],
            findings.Select(f => f.Signature).Order());
        Assert.Equal([2, 3], findings.Single(f => f.Signature.EndsWith("double-map")).Lines);
        Assert.Equal([2, 4], findings.Single(f => f.Signature.EndsWith("leaked-mapping")).Lines);
    }

    [Theory]
    [InlineData("garbage.log", "no QEMU trace events or DMA error lines found in 3 line(s)")]
    [InlineData("empty.log", "the file is empty")]
    public void Garbage_and_empty_input_are_one_clear_error(string file, string message)
    {
        var e = Assert.Throws<TraceFormatException>(() => TraceReader.Read(Fixture(file)));
        Assert.StartsWith(Fixture(file), e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Binary_input_is_one_clear_error()
    {
        string path = Path.Combine(Path.GetTempPath(), $"trace-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0]);
        try { Assert.Contains("binary data", Assert.Throws<TraceFormatException>(() => TraceReader.Read(path)).Message); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void The_import_is_saved_as_yaml_with_its_findings_and_events()
    {
        string path = Path.Combine(Path.GetTempPath(), $"trace-{Guid.NewGuid():N}.yaml");
        try
        {
            ImportedTrace.From(Fixture("cxl-skip-journald.log")).Save(path);
            string text = File.ReadAllText(path);
            Assert.Contains("schema: vfio-fuzz/trace/1", text);
            Assert.Contains("signature: asymmetric-unmap:never-mapped", text);
            Assert.Contains("lines: [7, 8, 9]", text);
            Assert.Contains("event: vfio_listener_region_skip_dma_map", text);
        }
        finally { File.Delete(path); }
    }

    /// <summary>Notes the transaction boundaries it is given, listening as upstream does.</summary>
    sealed class TransactionLog : Targets.Model.VfioListener
    {
        public List<string> Steps { get; } = [];
        public override Listener.TargetInfo Info { get; } = new("test-transactions", "test", [], "");
        public override void Begin() { Steps.Add("begin"); base.Begin(); }
        public override void RegionAdd(in Memory.Section s) { Steps.Add("add"); base.RegionAdd(s); }
        public override void RegionDel(in Memory.Section s) { Steps.Add("del"); base.RegionDel(s); }
        public override void Commit() { Steps.Add("commit"); base.Commit(); }
    }

    [Fact]
    public void Recorded_listener_events_are_fed_as_QEMU_commits_them_dels_then_adds()
    {
        var trace = ImportedTrace.From(Fixture("upstream-cxl-bare.log"));
        var target = new TransactionLog();
        Assert.Null(TraceConformance.Compare(trace.Events, target, 4096));
        // The boot adds are one transaction, and the teardown's dels another: not one per event.
        Assert.Equal("begin add add add add add commit begin del del del del del commit", string.Join(' ', target.Steps));
    }

    [Fact]
    public void Viommu_notifications_are_compared_call_by_call()
    {
        var trace = ImportedTrace.From(Fixture("viommu-notify.log"));
        Assert.Empty(trace.Findings);
        // Upstream maps whatever an IOTLB MAP points at, the CXL DPA included: it reproduces the recording.
        Assert.Null(TraceConformance.Compare(trace.Events, Repo.Catalog.Create("qemu-11.0"), 4096));
        // The notify variant skips the MAP into the DPA mmap: it diverges at that notification.
        var d = TraceConformance.Compare(trace.Events, Repo.Catalog.Create("nv-2e963ff-notify"), 4096);
        Assert.NotNull(d);
        Assert.Equal(6, d.Line);
        Assert.Equal("iommu MAP @ 0x100200000 - 0x1003fffff", d.Event);
        Assert.Empty(d.Model);
    }
}

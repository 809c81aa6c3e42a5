using VfioFuzz.Traces;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// Real evidence in (issue 15): QEMU's error lines are backend calls with their errno, the
/// legacy type1 container's logs are judged, the listener's own protocol is checked without
/// any backend line, and every shape people paste (locales, container runtimes, markdown) is
/// read; each fixture is written from QEMU's format strings, with its verdict here.
/// </summary>
public class TraceEvidenceTests
{
    static string Fixture(string name) => Path.Combine(Repo.Root, "harness", "VfioFuzz.Tests", "Fixtures", "traces", name);

    static (string Signature, int[] Lines)[] Findings(string file) =>
        ImportedTrace.From(Fixture(file)).Findings.Select(f => (f.Signature, f.Lines.ToArray())).ToArray();

    [Fact]
    public void Type1_readd_over_a_live_range_is_found_from_the_listener_events_and_the_error_line()
    {
        var findings = Findings("type1-readd-over-live.log");
        // The add over a live range, naming the add that made it live and the new one.
        Assert.Contains(("asymmetric-unmap:add-over-live", new[] { 3, 5 }), findings, new SignatureLines());
        // QEMU's own error line: the map answered EEXIST, over the range line 3 made live.
        var doubleMap = Assert.Single(findings, f => f.Signature == "asymmetric-unmap:double-map");
        Assert.Equal([3, 6], doubleMap.Lines);
        // An unmap reaching 2^64 answered EINVAL, with the ioctl's own line (VFIO_UNMAP_DMA: -22).
        var einval = Assert.Single(findings, f => f.Signature == "unexpected-errno:unmap:EINVAL");
        Assert.Equal([8, 9], einval.Lines);
        Assert.Contains(ImportedTrace.From(Fixture("type1-readd-over-live.log")).Findings, f => f.Summary.Contains("reaches 2^64"));
    }

    [Fact]
    public void Error_lines_alone_are_evidence_of_every_kind()
    {
        var findings = Findings("iommufd-errors-only.log");
        Assert.Equal(
            [
                ("asymmetric-unmap:never-mapped", [2, 3]),
                ("asymmetric-unmap:never-mapped", [4, 5]),          // the container line was wrapped onto line 6
                ("asymmetric-unmap:double-map", [7, 8]),
                ("missing-stage2:bar-never-mapped", [9, 10]),
                ("crash:qemu-abort", [11]),
            ],
            findings, new SignatureLines());
        Assert.Contains(ImportedTrace.From(Fixture("iommufd-errors-only.log")).Findings,
            f => f.Signature == "asymmetric-unmap:double-map" && f.Summary.Contains("outside the excerpt"));
    }

    [Fact]
    public void An_earlier_dmabuf_format_is_read_and_prose_after_it_is_never_joined()
    {
        var trace = ImportedTrace.From(Fixture("dmabuf-old-revision.md"));
        var dmabufs = trace.Events.OfType<RegionDmabuf>().ToArray();
        Assert.Equal(2, dmabufs.Length);
        Assert.Equal(0x1_0000_0000UL, dmabufs[0].Size);
        Assert.Equal(-1, dmabufs[0].Fd);
        Assert.DoesNotContain(trace.Read.Events, e => e.Args.Contains("never see"));
        // BAR 4 was MAP_FILE'd (same size); BAR 2 of the second device and the mmap'd BAR 0 were not.
        Assert.Equal(2, trace.Findings.Count(f => f.Signature == "missing-stage2:bar-never-mapped"));
        // A format we do not know is read leniently and shown, never dropped.
        var lenient = Assert.Single(trace.Events.OfType<LenientEvent>());
        Assert.Equal(10, lenient.Line);
        Assert.Equal([0x0UL, 0xffffUL, 0x7f5000100000UL], lenient.Hex);
    }

    [Fact]
    public void Syslog_and_journald_prefixes_in_any_locale_lose_no_event()
    {
        var read = TraceReader.Read(Fixture("syslog-locales.log"));
        Assert.Equal(4, read.Events.Count(e => e.Name == "vfio_region_mmap"));
        Assert.Equal(1, read.Events.Count(e => e.Name == "iommufd_backend_map_dma"));
        Assert.Equal(1, read.LinesSkipped);   // the kernel's own line
    }

    [Fact]
    public void Container_runtime_msg_fields_read_to_the_same_events_as_the_journal()
    {
        var kata = TraceReader.Read(Fixture("kata-msg.log"));
        var journald = TraceReader.Read(Fixture("cxl-skip-journald.log"));
        var wanted = journald.Events.Where(e => e.Name != "iommufd_backend_map_dma" && !e.Args.Contains("0x40000000")).Select(e => (e.Name, e.Args));
        Assert.Equal(wanted, kata.Events.Select(e => (e.Name, e.Args)));
        Assert.Contains("\"0000:01:00.0 BAR 2 dpa mmaps[0]\"", kata.Events[1].Args);   // escaped quotes undone
        Assert.Contains(ImportedTrace.From(Fixture("kata-msg.log")).Findings, f => f.Signature == "asymmetric-unmap:never-mapped");
    }

    [Fact]
    public void Listener_protocol_is_checked_without_any_backend_line()
    {
        Assert.Equal(
            [("asymmetric-unmap:del-range-differs", [2, 3]), ("asymmetric-unmap:del-never-added", [4])],
            Findings("listener-protocol.log"), new SignatureLines());
    }

    [Fact]
    public void Unused_vfio_events_are_named_with_their_lines()
    {
        var read = TraceReader.Parse("inline.log", "vfio_region_sparse_mmap_entry sparse entry 0 [0x0 - 0xfff]\nvfio_listener_region_del region_del 0x0 - 0xfff\n");
        var other = Assert.Single(read.OtherEvents);
        Assert.Equal((1, "vfio_region_sparse_mmap_entry"), (other.Line, other.Name));
    }

    sealed class SignatureLines : IEqualityComparer<(string Signature, int[] Lines)>
    {
        public bool Equals((string Signature, int[] Lines) a, (string Signature, int[] Lines) b) => a.Signature == b.Signature && a.Lines.SequenceEqual(b.Lines);
        public int GetHashCode((string Signature, int[] Lines) x) => x.Signature.GetHashCode();
    }
}

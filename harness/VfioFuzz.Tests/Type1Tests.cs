using VfioFuzz.Conformance;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using VfioFuzz.Targets.Model;
using VfioFuzz.Traces;
using VfioFuzz.Type1;
using VfioFuzz.Yaml;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The legacy type1 container: the simulated kernel answers as vfio_iommu_type1.c
/// does, QEMU's legacy container drives it, and `--container both` turns a verdict that
/// differs between the two interfaces into a finding of its own.</summary>
public sealed class Type1Tests() : TempFolder("type1")
{
    const ulong Page = 0x1000;
    const Type1MapFlags Rw = Type1MapFlags.Read | Type1MapFlags.Write;

    /// <summary>A container with a domain over one 1 MiB anonymous region and one 64 KiB BAR
    /// mmap (VM_PFNMAP), 4 KiB IOMMU pages, the MSI window reserved.</summary>
    static (SimType1 Kernel, ulong Ram, ulong Bar) Container(bool domain = true)
    {
        var host = new HostMemory();
        var ram = new MemoryRegion("ram", RegionKind.Ram, 1UL << 20, RegionRole.GuestRam, null);
        var bar = new MemoryRegion("bar", RegionKind.RamDevice, 64UL << 10, RegionRole.BarMmap, "dev");
        host.Allocate(ram, KernelFlavor.NoDmabuf);
        host.Allocate(bar, KernelFlavor.NoDmabuf);
        var geometry = new IoasGeometry(Page, [(0, 0x7fff_ffffUL), (0x8010_0000UL, ulong.MaxValue)]);
        return (new SimType1(geometry, host, domain), host[ram].Va, host[bar].Va);
    }

    static Errno Unmap(SimType1 k, ulong iova, ulong size, out ulong unmapped, Type1UnmapFlags flags = Type1UnmapFlags.None)
    {
        unmapped = size;
        var err = k.UnmapDma(iova, ref unmapped, flags);
        return err;
    }

    [Fact]
    public void A_map_is_refused_as_type1_refuses_it()
    {
        var (k, ram, bar) = Container();
        Assert.Equal(Errno.EINVAL, k.MapDma(0x10000, Page, ram, Type1MapFlags.None));          // neither READ nor WRITE
        Assert.Equal(Errno.EINVAL, k.MapDma(0x10000, 0, ram, Rw));                             // zero size
        Assert.Equal(Errno.EINVAL, k.MapDma(0x10800, Page, ram, Rw));                          // IOVA off the page
        Assert.Equal(Errno.EINVAL, k.MapDma(0x10000, Page, ram + 0x800, Rw));                  // vaddr off the page (iommufd takes it)
        Assert.Equal(Errno.EINVAL, k.MapDma(ulong.MaxValue - Page + 1, 2 * Page, ram, Rw));    // IOVA wraps
        Assert.Equal(Errno.EINVAL, k.MapDma(0x8000_0000UL, Page, ram, Rw));                    // the reserved MSI window
        Assert.Equal(Errno.EFAULT, k.MapDma(0x10000, Page, 0x1000, Rw));                       // nothing to pin there
        Assert.Equal(Errno.Ok, k.MapDma(0x10000, 4 * Page, ram, Rw));
        Assert.Equal(Errno.EEXIST, k.MapDma(0x12000, 4 * Page, ram, Rw));                      // any overlap
        Assert.Equal(Errno.EEXIST, k.MapDma(0x10000, 4 * Page, ram, Rw));                      // the same map replayed
        // A BAR mmap (VM_PFNMAP) is followed by pfn and maps: P2P works on type1.
        Assert.Equal(Errno.Ok, k.MapDma(0x4000_0000UL, 64UL << 10, bar, Rw));
    }

    [Fact]
    public void Without_a_domain_nothing_is_pinned_and_any_aligned_iova_is_taken()
    {
        // The mdev container of the real-QEMU lab: MAP_DMA only records the range.
        var (k, _, _) = Container(domain: false);
        Assert.Equal(Errno.Ok, k.MapDma(0x8000_0000UL, Page, 0x1000, Type1MapFlags.Read));
        Assert.Single(k.AreasIn(0, ulong.MaxValue));
    }

    [Fact]
    public void V2_refuses_an_unmap_that_bisects_a_mapping_and_unmaps_nothing_with_success()
    {
        var (k, ram, _) = Container();
        Assert.Equal(Errno.Ok, k.MapDma(0x10000, 4 * Page, ram, Rw));
        Assert.Equal(Errno.Ok, k.MapDma(0x20000, 4 * Page, ram + 0x10000, Rw));
        // Starting inside the first mapping, or ending inside the second: EINVAL, nothing removed.
        Assert.Equal(Errno.EINVAL, Unmap(k, 0x11000, 3 * Page, out ulong n1));
        Assert.Equal(0UL, n1);
        Assert.Equal(Errno.EINVAL, Unmap(k, 0x10000, 0x11000, out _));
        Assert.Equal(2, k.AreasIn(0, ulong.MaxValue).Count);
        // Nothing there: success, size 0 (iommufd answers ENOENT).
        Assert.Equal(Errno.Ok, Unmap(k, 0x40000, Page, out ulong none));
        Assert.Equal(0UL, none);
        // A superset with holes takes both and says how much.
        Assert.Equal(Errno.Ok, Unmap(k, 0, 0x100000, out ulong both));
        Assert.Equal(8 * Page, both);
        Assert.Empty(k.AreasIn(0, ulong.MaxValue));
    }

    [Fact]
    public void Unmap_rejects_bad_ranges_and_unmap_all_takes_everything()
    {
        var (k, ram, _) = Container();
        Assert.Equal(Errno.Ok, k.MapDma(0x10000, Page, ram, Rw));
        Assert.Equal(Errno.EINVAL, Unmap(k, 0x10000, 0, out _));                       // zero size
        Assert.Equal(Errno.EINVAL, Unmap(k, 0x10800, Page, out _));                    // unaligned IOVA
        Assert.Equal(Errno.EINVAL, Unmap(k, 0x10000, 0x800, out _));                   // unaligned size
        Assert.Equal(Errno.EINVAL, Unmap(k, 1UL << 63, 1UL << 63 | Page, out _));      // wraps past 2^64
        Assert.Equal(Errno.Ok, k.MapDma(0xffff_0000_0000_0000UL, Page, ram, Rw));
        Assert.Equal(Errno.Ok, Unmap(k, 1UL << 63, 1UL << 63, out ulong wrapped));       // reaches 2^64 exactly: the walk ends at 0
        Assert.Equal(0UL, wrapped);                                                      // and takes nothing (recorded on 6.12.117)
        Assert.Equal(Errno.EINVAL, Unmap(k, 0x10000, 0, out _, Type1UnmapFlags.All));  // ALL wants iova 0, size 0
        Assert.Equal(Errno.Ok, Unmap(k, 0, 0, out ulong all, Type1UnmapFlags.All));
        Assert.Equal(2 * Page, all);
    }

    [Fact]
    public void The_entry_limit_is_ENOSPC()
    {
        var (k, ram, _) = Container(domain: false);
        for (int i = 0; i < SimType1.DmaEntryLimit; i++)
            Assert.Equal(Errno.Ok, k.MapDma((ulong)i * Page, Page, ram, Rw));
        Assert.Equal(Errno.ENOSPC, k.MapDma((ulong)SimType1.DmaEntryLimit * Page, Page, ram, Rw));
    }

    /// <summary>A type1 kernel that records the unmap calls and can say VFIO_UNMAP_ALL is missing.</summary>
    sealed class Recording(SimType1 inner, bool unmapAll) : IType1Iommu
    {
        public List<(ulong Iova, ulong Size, Type1UnmapFlags Flags)> Unmaps { get; } = [];
        public ulong IovaPgsizes => inner.IovaPgsizes;
        public bool UnmapAllSupported => unmapAll;
        public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags) => inner.MapDma(iova, size, vaddr, flags);

        public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
        {
            Unmaps.Add((iova, size, flags));
            return inner.UnmapDma(iova, ref size, flags);
        }

        public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => inner.AreasIn(start, end);
    }

    [Fact]
    public void The_legacy_container_unmaps_all_with_one_flagged_call_or_in_two_halves()
    {
        foreach (bool supported in new[] { true, false })
        {
            var (sim, ram, _) = Container();
            var kernel = new Recording(sim, supported);
            var env = new ListenerEnvironment(kernel, new HostMemory(), Page, [], new TraceLog());
            var container = new LegacyContainer(env, kernel);
            var dimm = new MemoryRegion("dimm", RegionKind.Ram, Page, RegionRole.GuestRam, null);
            Assert.Equal(0, container.DmaMap(0x10000, Page, dimm, ram, readOnly: false));
            Assert.Equal(0, container.DmaUnmap(0, (UInt128)ulong.MaxValue + 1));
            Assert.Empty(sim.AreasIn(0, ulong.MaxValue));
            Assert.Equal(supported
                ? [(0UL, 0UL, Type1UnmapFlags.All)]
                : [(0UL, 1UL << 63, Type1UnmapFlags.None), (1UL << 63, 1UL << 63, Type1UnmapFlags.None)], kernel.Unmaps);
        }
    }

    [Fact]
    public void The_model_traces_type1_calls_in_the_lab_shims_format()
    {
        var result = new ProgramRunner(Profile.Q35Mbochs, () => Repo.Catalog.Create("qemu-11.0"),
            new RunOptions(Trace: true, Container: ContainerChoice.Type1)).Run(new FuzzProgram([new SetCommandMem("mdev0", false)]));
        var lines = result.Trace.Where(l => l.StartsWith("vfio_fuzz_type1_", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(lines);
        var events = TraceReader.Parse("model.log", string.Join('\n', lines)).Events.Select(TraceArgs.Read).ToArray();
        Assert.Contains(events, e => e is Type1MapDma { Iova: 0, Errno: 0 });
        Assert.Contains(events, e => e is Type1UnmapDma { Errno: 0 });
        Assert.True(result.Clean);
    }

    [Fact]
    public void Both_containers_give_upstream_the_same_verdict_on_every_seed()
    {
        // No false container-divergence: the seeds are bug-free programs on every profile.
        foreach (var path in CorpusFile.Find(Path.Combine(Repo.Corpus, "seeds")))
        {
            var entry = CorpusFile.Load(path);
            var result = new ProgramRunner(entry.Profile, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Container: ContainerChoice.Both)).Run(entry.Program);
            Assert.DoesNotContain(result.Findings, f => f.Kind == FindingKinds.ContainerDivergence);
        }
    }

    [Fact]
    public void A_no_dmabuf_bar_is_a_divergence_type1_maps_it_by_pfn_where_iommufd_cannot()
    {
        var entry = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", "nvlink-aperture-no-dmabuf.yaml"));
        var result = new ProgramRunner(entry.Profile, () => Repo.Catalog.Create("qemu-11.0"),
            new RunOptions(Trace: true, Container: ContainerChoice.Both)).Run(entry.Program);
        var d = Assert.Single(result.Findings, f => f.Kind == FindingKinds.ContainerDivergence);
        Assert.Equal("container-divergence:iommufd-only:missing-stage2:nvlink-aperture", d.Signature);
        Assert.Contains("on the type1 container it shows no finding", d.Summary);
        // Both traces, each under its header.
        Assert.Equal(1, result.Trace.Count(l => l == "# container iommufd"));
        Assert.Equal(1, result.Trace.Count(l => l == "# container type1"));
    }

    [Fact]
    public void A_seeded_campaign_on_both_containers_finds_a_short_unmap_that_only_type1_refuses()
    {
        var store = new FindingStore(Dir, container: ContainerChoice.Both);
        var campaign = new InProcessCampaign(Profile.VrCxlType2, "test-del-trim-off-by-one", () => new DelTrimOffByOne(), store,
            new RunOptions(Container: ContainerChoice.Both));
        campaign.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);
        var found = Assert.Single(campaign.Findings, f => f.Finding.Signature == "container-divergence:type1-only:unexpected-errno:unmap:EINVAL");
        var entry = CorpusFile.Load(found.ReproducerPath);
        Assert.Equal(ContainerChoice.Both, entry.Container);
        Assert.Contains(found.Finding.Signature, entry.Expect["test-del-trim-off-by-one"]);
    }

    [Fact]
    public void A_corpus_entry_names_its_container_and_a_bad_one_is_an_error_at_its_line()
    {
        string text = CorpusFile.ToYaml("c", "d", Profile.VrCxlType2, new FuzzProgram([new SetCommandMem("nic0", false)]),
            new Dictionary<string, IReadOnlyCollection<string>>(), ContainerChoice.Type1);
        Assert.Contains("container: type1", text);
        Assert.Equal(ContainerChoice.Type1, CorpusFile.Parse("c.yaml", text).Container);
        var e = Assert.Throws<YamlFormatException>(() => CorpusFile.Parse("c.yaml", text.Replace("container: type1", "container: vfio")));
        Assert.Contains("unknown container 'vfio'", e.Message);
        Assert.Contains("c.yaml:", e.Message);
        // iommufd is the default and is not written: entries on it keep their old form.
        Assert.DoesNotContain("container:", CorpusFile.ToYaml("c", "d", Profile.VrCxlType2, FuzzProgram.Empty, new Dictionary<string, IReadOnlyCollection<string>>()));
    }
}

/// <summary>The type1 simulator held to a real type1 container's answers (recorded in the lab
/// on the mdev's group), and the uAPI the real backend speaks.</summary>
public sealed class Type1ConformanceTests
{
    static string Recording => Path.Combine(Repo.Corpus, "cassettes", "type1", "conformance.yaml");

    [Fact]
    public void The_simulator_agrees_with_the_real_type1_container_on_every_case()
    {
        var recording = Type1RecordingFile.Load(Recording);
        Assert.Equal(Type1Conformance.Count, recording.Cases.Length);
        Assert.Empty(Type1Conformance.Compare(recording));
    }

    static string CompatRecording => Path.Combine(Repo.Corpus, "cassettes", "type1", "iommufd-compat.yaml");

    [Fact]
    public void The_compat_simulator_agrees_with_iommufds_vfio_compat_layer_on_every_case()
    {
        var recording = Type1RecordingFile.Load(CompatRecording);
        Assert.Equal(Type1Kernel.IommufdCompat, recording.ServedBy);
        Assert.Equal(Type1Conformance.Count, recording.Cases.Length);
        Assert.Empty(Type1Conformance.Compare(recording));
    }

    [Fact]
    public void The_two_kernels_behind_the_type1_uapi_answer_differently_and_each_simulator_knows_its_own()
    {
        // Held to the other kernel's recording, each simulator differs: the recordings are not
        // the same answers twice (the compat layer maps no BAR by pfn, refuses a bisecting
        // unmap with ENOENT instead of EINVAL, and maps a request with no permission).
        var type1 = Type1RecordingFile.Load(Recording);
        var compat = Type1RecordingFile.Load(CompatRecording);
        var crossed = Type1Conformance.Compare(compat with { ServedBy = Type1Kernel.VfioIommuType1, Domain = true });
        Assert.Contains(crossed, d => d.Case == "map-bar-mmap");
        Assert.Contains(crossed, d => d.Case == "unmap-bisect-head" && d.Detail.Contains("kernel ENOENT"));
        Assert.Contains(crossed, d => d.Case == "map-without-read-or-write" && d.Detail.Contains("kernel Ok"));
        Assert.NotEmpty(Type1Conformance.Compare(type1 with { ServedBy = Type1Kernel.IommufdCompat }));
    }

    [Fact]
    public void An_answer_the_simulator_does_not_give_is_a_difference_naming_its_case()
    {
        var recording = Type1RecordingFile.Load(Recording);
        // What a simulator that let a range reaching 2^64 unmap its entry would be held to.
        var (name, calls) = recording.Cases.Single(c => c.Case == "map-last-page");
        var tampered = recording with
        {
            Cases = recording.Cases.Replace((name, calls), (name, calls.SetItem(1, calls[1] with { Unmapped = 0x1000 }))),
        };
        var d = Assert.Single(Type1Conformance.Compare(tampered));
        Assert.Equal("map-last-page", d.Case);
        Assert.Contains("kernel Ok (0x1000 unmapped), simulator Ok (0x0 unmapped)", d.Detail);
    }

    [Fact]
    public void A_recording_with_a_bad_errno_is_an_error_at_its_line()
    {
        string path = Path.Combine(Path.GetTempPath(), $"type1-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, File.ReadAllText(Recording).Replace("errno: EEXIST}", "errno: EWHAT}"));
        try
        {
            var e = Assert.Throws<YamlFormatException>(() => Type1RecordingFile.Load(path));
            Assert.Contains("'EWHAT' is not an errno", e.Message);
            Assert.Matches(@":\d+:", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void The_uapi_structs_and_requests_have_the_kernels_layout()
    {
        // include/uapi/linux/vfio.h (6.12): _IO(';', 100 + n); natural alignment.
        Assert.Equal(0x3b65, VfioIoctl.CheckExtension);
        Assert.Equal(0x3b66, VfioIoctl.SetIommu);
        Assert.Equal(0x3b67, VfioIoctl.GroupGetStatus);
        Assert.Equal(0x3b68, VfioIoctl.GroupSetContainer);
        Assert.Equal(0x3b70, VfioIoctl.IommuGetInfo);
        Assert.Equal(0x3b71, VfioIoctl.IommuMapDma);
        Assert.Equal(0x3b72, VfioIoctl.IommuUnmapDma);
        Assert.Equal(8, System.Runtime.InteropServices.Marshal.SizeOf<VfioGroupStatus>());
        Assert.Equal(24, System.Runtime.InteropServices.Marshal.SizeOf<VfioIommuType1Info>());
        Assert.Equal(8, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1Info>(nameof(VfioIommuType1Info.IovaPgsizes)));
        Assert.Equal(16, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1Info>(nameof(VfioIommuType1Info.CapOffset)));
        Assert.Equal(32, System.Runtime.InteropServices.Marshal.SizeOf<VfioIommuType1DmaMap>());
        Assert.Equal(8, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1DmaMap>(nameof(VfioIommuType1DmaMap.Vaddr)));
        Assert.Equal(16, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1DmaMap>(nameof(VfioIommuType1DmaMap.Iova)));
        Assert.Equal(24, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1DmaMap>(nameof(VfioIommuType1DmaMap.Size)));
        Assert.Equal(24, System.Runtime.InteropServices.Marshal.SizeOf<VfioIommuType1DmaUnmap>());
        Assert.Equal(8, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1DmaUnmap>(nameof(VfioIommuType1DmaUnmap.Iova)));
        Assert.Equal(16, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VfioIommuType1DmaUnmap>(nameof(VfioIommuType1DmaUnmap.Size)));
    }

    [Fact]
    public void Without_a_type1_container_the_real_backend_says_how_to_get_one()
    {
        var e = Assert.Throws<IommufdUnavailableException>(() => new VfioType1Container("/dev/vfio/no-such-group", new HostMemory(), TimeSpan.FromSeconds(1)));
        Assert.Contains("/dev/vfio/", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}

using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using VfioFuzz.Yaml;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>fail-nth: the kernel refuses a map the listener makes, and the oracles judge the
/// listener's reaction against QEMU's own: hw_error after a failed RAM map (or a failed
/// registration before initialization), a warning and no mapping for device memory.</summary>
public sealed class FailNthTests() : TempFolder("fail-nth")
{
    const ulong Dimm = World.HotplugBase;

    static RunResult Run(Func<ListenerTarget> target, ContainerChoice container, params Op[] ops) =>
        new ProgramRunner(Profile.VrCxlType2, target, new RunOptions(Trace: true, Container: container)).Run(new FuzzProgram([.. ops]));

    static RunResult Run(string target, params Op[] ops) => Run(() => Repo.Catalog.Create(target), ContainerChoice.Both, ops);

    [Theory]
    [InlineData("qemu-11.0")]
    [InlineData("qemu-7.2")]
    public void After_a_failed_ram_map_upstream_stops_as_qemu_does_and_that_is_no_finding(string target)
    {
        var r = Run(target, new SetCommandMem("nic0", false), new FailNth(1, Errno.ENOMEM), new MapRegion("dimm0", Dimm), new SetCommandMem("nic0", true));
        Assert.True(r.Clean, string.Join(", ", r.Signatures));
        Assert.Equal(3, r.Steps);   // the VM is gone at the plug: the op after it never runs
        Assert.Contains(r.Trace, l => l.StartsWith("# QEMU stops here, as it does when the map of dimm0", StringComparison.Ordinal) && l.EndsWith("vfio: DMA mapping failed, unable to continue", StringComparison.Ordinal));
    }

    [Fact]
    public void A_fail_nth_first_in_the_program_fails_the_registration_as_qemu_reports_it()
    {
        var r = Run("qemu-11.0", new FailNth(1, Errno.EFAULT), new SetCommandMem("nic0", false));
        Assert.True(r.Clean, string.Join(", ", r.Signatures));
        Assert.Contains(r.Trace, l => l.Contains("(armed before the listener registers)"));
        Assert.Contains(r.Trace, l => l.Contains("memory listener initialization failed: Region ram: vfio_container_dma_map"));
    }

    [Fact]
    public void A_failed_device_memory_map_is_warned_and_its_missing_stage2_is_the_kernels_not_a_finding()
    {
        // The DPA needs Stage-2 and the device reaches it by ATS; the kernel refused its map.
        var r = Run("qemu-11.0", new HdmDecommit("cxl0"), new FailNth(1, Errno.ENOSPC), new HdmCommit("cxl0", 0x80_1000_0000UL), new AtsAccess("cxl0", 0x80_1000_0000UL));
        Assert.True(r.Clean, string.Join(", ", r.Signatures));
        Assert.Equal(5, r.Steps);
        Assert.Contains(r.Trace, l => l.Contains("warning: vfio_container_dma_map(0x0, 0x8010000000, 0x10000000"));
    }

    [Fact]
    public void A_target_that_goes_on_after_a_failed_ram_map_is_found_after_and_before_initialization()
    {
        var later = Run(() => new IgnoresRamMapFailure(), ContainerChoice.Iommufd, new FailNth(2, Errno.EINVAL), new MapRegion("dimm0", Dimm));
        // FailNth first arms before registration: its 2nd map is the replay's second (a ram_device), so count the plug here.
        Assert.DoesNotContain(later.Findings, f => f.Signature.StartsWith("crash:", StringComparison.Ordinal));
        var afterInit = Run(() => new IgnoresRamMapFailure(), ContainerChoice.Iommufd, new SetCommandMem("nic0", false), new FailNth(1, Errno.EINVAL), new MapRegion("dimm0", Dimm));
        var f = Assert.Single(afterInit.Findings, x => x.Signature == "unexpected-errno:ignored-map-failure:guest-ram");
        Assert.Equal(3, f.Step);
        Assert.Contains("dimm0", f.Summary);
        var atBoot = Run(() => new IgnoresRamMapFailure(), ContainerChoice.Iommufd, new FailNth(1, Errno.EINVAL));
        Assert.Contains("the listener's registration succeeded", Assert.Single(atBoot.Findings, x => x.Signature == "unexpected-errno:ignored-map-failure:guest-ram").Summary);
    }

    [Fact]
    public void NVIDIAs_fallback_after_a_failed_map_file_is_a_retry_not_a_double_map()
    {
        // The failed MAP_FILE of cxl0's BAR0 piece is retried by VA (NVIDIA PR #20): one request.
        var r = Run(() => Repo.Catalog.Create("nv-cdf5e75"), ContainerChoice.Iommufd,
            new SetCommandMem("cxl0", false), new FailNth(1, Errno.EEXIST), new SetCommandMem("cxl0", true));
        Assert.Contains(r.Trace, l => l.StartsWith("iommufd_backend_map_file_dma  iommufd=3 ioas=1 iova=0x10000010000", StringComparison.Ordinal) && l.EndsWith("(-1)", StringComparison.Ordinal));
        Assert.Contains(r.Trace, l => l.StartsWith("iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x10000010000", StringComparison.Ordinal));
        Assert.DoesNotContain(r.Findings, f => f.Signature.Contains("double-map"));
    }

    [Fact]
    public void A_target_that_aborts_where_qemu_only_warns_is_a_crash()
    {
        var r = Run(() => new AbortsOnDeviceMapFailure(), ContainerChoice.Iommufd, new SetCommandMem("nic0", false), new FailNth(1, Errno.EFAULT), new SetCommandMem("nic0", true));
        Assert.Contains(r.Findings, f => f.Signature == "crash:qemu-abort" && f.Step == 3);
    }

    [Fact]
    public void A_seeded_campaign_finds_the_ignored_failure_and_upstream_stays_quiet()
    {
        var broken = new InProcessCampaign(Profile.VrCxlType2, "test-ignores-ram-map-failure", () => new IgnoresRamMapFailure(), new FindingStore(Dir));
        broken.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);
        Assert.Contains(broken.Findings, f => f.Finding.Signature == "unexpected-errno:ignored-map-failure:guest-ram");
        // No false positive from injected failures on upstream: only what upstream's code does.
        var upstream = new InProcessCampaign(Profile.VrCxlType2, "qemu-11.0", () => Repo.Catalog.Create("qemu-11.0"), new FindingStore(Path.Combine(Dir, "upstream")),
            new RunOptions(Container: ContainerChoice.Both));
        upstream.Run(seed: 1, TimeSpan.FromMinutes(5), progress: null, CancellationToken.None, maxExecs: Repo.SmokeExecs);
        Assert.All(upstream.Findings, f => Assert.Contains(f.Finding.Signature, UpstreamFindings.All));
    }

    [Fact]
    public void Fail_nth_round_trips_through_yaml_and_bytes_and_a_bad_errno_is_an_error_at_its_line()
    {
        var program = new FuzzProgram([new SetCommandMem("nic0", false), new FailNth(3, Errno.EEXIST)]);
        string text = CorpusFile.ToYaml("f", "d", Profile.VrCxlType2, program, new Dictionary<string, IReadOnlyCollection<string>>());
        Assert.Contains("fail-nth: {n: 3, errno: EEXIST}", text);
        Assert.Equal(program, CorpusFile.Parse("f.yaml", text).Program);
        var bytes = ProgramEncoder.Encode(program, Profile.VrCxlType2, out _);
        Assert.NotNull(bytes);
        Assert.Equal(program, ProgramDecoder.Decode(bytes, Profile.VrCxlType2));
        var e = Assert.Throws<YamlFormatException>(() => CorpusFile.Parse("f.yaml", text.Replace("errno: EEXIST", "errno: EPERM")));
        Assert.Contains("fail-nth: errno must be one of EFAULT, ENOMEM, ENOSPC, EEXIST, EINVAL", e.Message);
        Assert.Contains("f.yaml:", e.Message);
    }
}

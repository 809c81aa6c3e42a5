using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// One list of finding kinds: every kind an oracle can report is saved by a campaign's store
/// and loads back through the corpus loader (issue 14: `dirty-lost` findings were saved and
/// then refused, crashing the main job and breaking replay and the tests).
/// </summary>
public sealed class FindingKindsTests() : TempFolder("kinds")
{
    /// <summary>For each kind, a target and program that make its oracle fire (on iommufd
    /// unless a container is named).</summary>
    static readonly Dictionary<string, (Profile Profile, Func<ListenerTarget> Target, Op[] Ops, ContainerChoice Container, Func<Profile, HostMemory, IIoas>? Backend)> Producers = new()
    {
        [FindingKinds.AsymmetricUnmap] = (Profile.VrCxlType2, () => Repo.Catalog.Create("nv-2e963ff+e227a6b"), [new HdmDecommit("cxl0")], ContainerChoice.Iommufd, null),
        [FindingKinds.MissingStage2] = (Profile.Gb200Nvlink, () => Repo.Catalog.Create("nv-d814a45"), [new AtsAccess("gpu0", 0x102_0000_0000UL)], ContainerChoice.Iommufd, null),
        [FindingKinds.Timeout] = (Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), [new DeviceReset("cxl0")], ContainerChoice.Iommufd, null),
        [FindingKinds.Crash] = (Profile.VrCxlType2, () => new ThrowsOnDel(), [new SetCommandMem("nic0", false)], ContainerChoice.Iommufd, null),
        [FindingKinds.UnexpectedErrno] = (Profile.VrCxlType2, () => new MisalignedMap(), [], ContainerChoice.Iommufd, null),
        [FindingKinds.DirtyLost] = (Profile.Gb200Nvlink, () => new NoDirtySyncOnDel(), [new SetDirtyTracking(true), new SetViommu(true)], ContainerChoice.Iommufd, null),
        // The short unmap is ENOENT (swallowed) on iommufd and EINVAL (a bisected entry) on type1.
        [FindingKinds.ContainerDivergence] = (Profile.VrCxlType2, () => new DelTrimOffByOne(), [new SetCommandMem("nic0", false)], ContainerChoice.Both, null),
        // A kernel whose domain ends below the BAR window at 1 TiB refuses the first BAR the simulator maps.
        [FindingKinds.BackendDivergence] = (Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"), [], ContainerChoice.Iommufd,
            (p, host) => new DifferentialIoas(new StandInKernel(new SimIoas(new IoasGeometry(0x1000, [(0, 0xff_ffff_ffffUL)]), host, p.Kernel)),
                new SimIoas(p, host), new SimulatorAnswers())),
    };

    [Fact]
    public void Every_kind_has_a_producer_here() =>
        Assert.Equal(FindingKinds.All.Order(), Producers.Keys.Order());

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_saved_finding_of_every_kind_loads_back_with_its_signature(string kind)
    {
        var (profile, target, ops, container, backend) = Producers[kind];
        var runner = new ProgramRunner(profile, target, new RunOptions(Container: container, Backend: backend));
        var program = new FuzzProgram([.. ops]);
        var result = runner.Run(program);
        var finding = result.Findings.First(f => f.Kind == kind);

        var store = new FindingStore(Dir, container: container);
        string path = store.Save("test-target", finding.Signature, profile, program, result.Signatures.ToArray(), finding.Summary);
        Assert.Contains(finding.Signature, store.KnownSignatures("test-target"));
        var entry = CorpusFile.Load(path);
        Assert.Contains(finding.Signature, entry.Expect["test-target"]);
        Assert.Equal(result.Signatures.Order(StringComparer.Ordinal), entry.Expect["test-target"].Order(StringComparer.Ordinal));
        Assert.Equal(container, entry.Container);
    }

    public static TheoryData<string> Kinds() => [.. FindingKinds.All];

    [Fact]
    public void A_finding_of_a_kind_not_in_the_list_cannot_be_made()
    {
        Assert.Throws<ArgumentException>(() => new Finding("data-loss", "data-loss:x", 1, "", "", ""));
        Assert.Throws<ArgumentException>(() => new Finding(FindingKinds.Timeout, "crash:x", 1, "", "", ""));
    }

    [Theory]
    [InlineData("dirty-lost:unmap-without-sync:guest-ram", null)]
    [InlineData("data-loss:x", "unknown kind 'data-loss'")]
    [InlineData("timeout", "not a finding signature")]
    [InlineData("timeout::x", "not a finding signature")]
    public void Signatures_are_checked_against_the_list(string signature, string? problem)
    {
        if (problem is null) Assert.Null(FindingKinds.Problem(signature));
        else Assert.Contains(problem, FindingKinds.Problem(signature));
    }
}

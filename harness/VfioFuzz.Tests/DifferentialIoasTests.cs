using VfioFuzz.Corpus;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// `--backend iommufd --differential` without /dev/iommu: the kernel side is the simulator
/// itself (so a faithful kernel) with one difference a test asks for. The comparison stays
/// quiet where the kernel agrees, and names the first call where it does not.
/// </summary>
public sealed class DifferentialIoasTests
{
    static RunOptions Differential(SimulatorAnswers answered, Func<Profile, HostMemory, IKernelIoas> kernel) =>
        new(Backend: (profile, host) => new DifferentialIoas(kernel(profile, host), new SimIoas(profile, host), answered));

    static RunResult Run(Profile profile, string target, FuzzProgram program, RunOptions? options = null) =>
        new ProgramRunner(profile, () => Repo.Catalog.Create(target), options).Run(program);

    public static TheoryData<string> Entries()
    {
        var data = new TheoryData<string>();
        foreach (var path in CorpusFile.Find(Path.Combine(Repo.Corpus, "bugs"))) data.Add(Path.GetFileName(path));
        return data;
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void A_kernel_that_answers_as_the_simulator_gives_the_simulators_verdict_on_every_target(string file)
    {
        var entry = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", file));
        foreach (var target in Repo.Catalog.Targets.Where(t => t.Has(ContainerKind.Iommufd)))
        {
            var alone = Run(entry.Profile, target.Id, entry.Program);
            var lockstep = Run(entry.Profile, target.Id, entry.Program,
                Differential(new SimulatorAnswers(), (p, host) => new StandInKernel(new SimIoas(p, host))));
            Assert.Equal(alone.Signatures, lockstep.Signatures);
        }
    }

    [Fact]
    public void A_kernel_with_a_narrower_aperture_diverges_at_the_first_map_above_it_and_the_run_stops_there()
    {
        // The BAR window is at 1 TiB: a kernel whose domain ends below it refuses the first BAR
        // (mapped by address: no dmabuf).
        var narrow = new IoasGeometry(0x1000, [(0, 0xff_ffff_ffffUL)]);
        var result = Run(Profile.VrCxlType2 with { Kernel = KernelFlavor.NoDmabuf }, "qemu-11.0", FuzzProgram.Empty,
            Differential(new SimulatorAnswers(), (p, host) => new StandInKernel(new SimIoas(narrow, host, p.Kernel))));
        var finding = Assert.Single(result.Findings);
        // The simulator, whose aperture is the profile's, gets as far as pinning: a BAR mmap is VM_PFNMAP.
        Assert.Equal("backend-divergence:map:EINVAL-vs-EFAULT", finding.Signature);
        Assert.Equal(0, finding.Step);   // the registration replay
        Assert.Contains("IOMMU_IOAS_MAP iova 0x100", finding.Summary);
        Assert.Contains("the kernel answered EINVAL, the simulator EFAULT", finding.Summary);
    }

    [Fact]
    public void A_kernel_without_map_file_leaves_it_to_the_simulator_stays_in_lockstep_and_the_calls_are_counted()
    {
        var answered = new SimulatorAnswers();
        var program = new FuzzProgram([new MapRegion("dimm0", 0x2_0000_0000UL), new UnmapRegion("dimm0"), new SystemReset()]);
        var alone = Run(Profile.Gb200NvlinkMemfd, "qemu-11.0", program);
        var lockstep = Run(Profile.Gb200NvlinkMemfd, "qemu-11.0", program,
            Differential(answered, (p, host) => new StandInKernel(new SimIoas(p, host), hasMapFile: false)));
        Assert.Equal(alone.Signatures, lockstep.Signatures);
        Assert.DoesNotContain(lockstep.Signatures, s => s.StartsWith(FindingKinds.BackendDivergence));
        Assert.True(answered.Counts["IOMMU_IOAS_MAP_FILE"] > 0);
        Assert.Contains("IOMMU_IOAS_MAP_FILE (", answered.ToString());
    }

    [Fact]
    public void A_domain_that_does_not_hold_what_the_kernel_said_it_mapped_is_a_divergence()
    {
        var result = Run(Profile.VrCxlType2, "qemu-11.0", FuzzProgram.Empty,
            Differential(new SimulatorAnswers(), (p, host) => new StandInKernel(new SimIoas(p, host), domainSays: false)));
        Assert.Equal(["backend-divergence:domain:not-mapped"], result.Signatures);
    }

    [Fact]
    public void A_domain_that_still_maps_what_the_kernel_said_it_unmapped_is_a_divergence()
    {
        // Every map checks out (the domain says yes to everything); the first unmap, a DIMM's
        // at step 2, does not.
        var result = Run(Profile.VrCxlType2, "qemu-11.0", new FuzzProgram([new MapRegion("dimm0", 0x2_0000_0000UL), new UnmapRegion("dimm0")]),
            Differential(new SimulatorAnswers(), (p, host) => new StandInKernel(new SimIoas(p, host), domainSays: true)));
        var finding = Assert.Single(result.Findings);
        Assert.Equal("backend-divergence:domain:still-mapped", finding.Signature);
        Assert.Equal(2, finding.Step);
    }

    [Fact]
    public void Without_a_difference_in_the_world_the_simulator_answers_nothing_alone()
    {
        var answered = new SimulatorAnswers();
        // RAM from anonymous memory and BARs without dmabuf: no MAP_FILE reaches the kernel.
        var result = Run(Profile.VrCxlType2 with { Kernel = KernelFlavor.NoDmabuf }, "qemu-11.0", new FuzzProgram([new SetCommandMem("nic0", false), new SetCommandMem("nic0", true)]),
            Differential(answered, (p, host) => new StandInKernel(new SimIoas(p, host), hasMapFile: false)));
        Assert.DoesNotContain(result.Signatures, s => s.StartsWith(FindingKinds.BackendDivergence));
        Assert.Equal("none", answered.ToString());
    }
}

using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The vIOMMU's IOMMU region as QEMU sizes it (2^64 bytes), and a vIOMMU that refuses
/// vfio's MAP notifier (qemu-listener.md §1.3, §1.6, §2).</summary>
public class ViommuWindowTests
{
    const ulong Iova = 0x1_0000_0000UL;
    static readonly Op[] MapAndDisable = [new SetViommu(true), new IotlbMap(Iova, 0x4000_0000UL, 0x10000, Writable: true), new SetViommu(false)];

    static RunResult Run(Profile profile, Func<ListenerTarget> target, RunOptions options, params Op[] ops) =>
        new ProgramRunner(profile, target, options).Run(new FuzzProgram([.. ops]));

    [Fact]
    public void The_iommu_section_spans_the_whole_64_bit_space_and_its_deletion_takes_the_unmap_all_path()
    {
        var iommufd = Run(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true), MapAndDisable);
        Assert.True(iommufd.Clean, string.Join("; ", iommufd.Signatures));
        Assert.Contains("vfio_listener_region_del region_del 0x0 - 0xffffffffffffffff", iommufd.Trace);
        // iommufd's unmap_all: iova 0, size UINT64_MAX (the kernel's "unmap everything").
        Assert.Contains(iommufd.Trace, l => l.StartsWith("iommufd_backend_unmap_dma  iommufd=3 ioas=1 iova=0x0 size=0xffffffffffffffff (0)", StringComparison.Ordinal));

        var type1 = Run(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true, Container: ContainerChoice.Type1), MapAndDisable);
        Assert.True(type1.Clean, string.Join("; ", type1.Signatures));
        // The legacy container with VFIO_UNMAP_ALL: one call with VFIO_DMA_UNMAP_FLAG_ALL (0x2).
        Assert.Contains(type1.Trace, l => l.Contains("iova=0x0 size=0x0", StringComparison.Ordinal) && l.Contains("flags=0x2", StringComparison.Ordinal)
                                            && l.Contains("unmapped=0x10000", StringComparison.Ordinal));
    }

    [Fact]
    public void An_emulated_smmuv3_refusing_the_map_notifier_stops_qemu_at_boot_and_a_target_that_goes_on_is_found()
    {
        Op[] ops = [new IotlbMap(Iova, 0x4000_0000UL, 0x10000, Writable: true), new AtsAccess("gpu0", Iova)];
        var upstream = Run(Profile.Gb200NvlinkSmmuv3, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true), ops);
        Assert.True(upstream.Clean, string.Join("; ", upstream.Signatures));
        Assert.Contains(upstream.Trace, l => l.Contains("QEMU stops here", StringComparison.Ordinal) && l.Contains("refused the MAP notifier", StringComparison.Ordinal));

        var ignores = Run(Profile.Gb200NvlinkSmmuv3, () => new IgnoresRefusedNotifier(), new RunOptions(), ops);
        var finding = Assert.Single(ignores.Findings, f => f.Signature == "unexpected-errno:ignored-map-failure:viommu");
        Assert.Contains("registration succeeded", finding.Summary);
        // The same target on a vIOMMU that accepts the notifier is upstream's listener: clean.
        Assert.True(Run(Profile.Gb200Nvlink, () => new IgnoresRefusedNotifier(), new RunOptions(), [new SetViommu(true), .. ops]).Clean);
    }
}

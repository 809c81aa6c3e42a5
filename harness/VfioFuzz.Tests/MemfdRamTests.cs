using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Guest RAM from a file-backed memory backend (memory-backend-memfd): the iommufd
/// container maps it by fd (IOMMU_IOAS_MAP_FILE); a failed MAP_FILE is fatal upstream and
/// retried by address in NVIDIA's tree (qemu-listener.md §1.5, PR #20).</summary>
public class MemfdRamTests
{
    static RunResult Run(string target, params Op[] ops) =>
        new ProgramRunner(Profile.Gb200NvlinkMemfd, () => Repo.Catalog.Create(target), new RunOptions(Trace: true)).Run(new FuzzProgram([.. ops]));

    [Fact]
    public void Guest_ram_and_dimms_are_mapped_by_fd()
    {
        var result = Run("qemu-11.0", new MapRegion("dimm0", World.HotplugBase), new UnmapRegion("dimm0"));
        Assert.True(result.Clean, string.Join("; ", result.Signatures));
        Assert.Contains(result.Trace, l => l.StartsWith("iommufd_backend_map_file_dma  iommufd=3 ioas=1 iova=0x40000000 size=0x80000000 fd=", StringComparison.Ordinal));
        Assert.Contains(result.Trace, l => l.StartsWith($"iommufd_backend_map_file_dma  iommufd=3 ioas=1 iova=0x{World.HotplugBase:x} size=0x20000000 fd=", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Trace, l => l.StartsWith("iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x40000000", StringComparison.Ordinal));
        // The anonymous-RAM profile maps the same RAM by address.
        var anonymous = new ProgramRunner(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0"), new RunOptions(Trace: true)).Run(new FuzzProgram([]));
        Assert.Contains(anonymous.Trace, l => l.StartsWith("iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x40000000 size=0x80000000", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failed_map_file_of_ram_stops_upstream_and_nvidia_retries_it_by_address()
    {
        Op[] ops = [new FailNth(1, Errno.EFAULT), new MapRegion("dimm0", World.HotplugBase)];
        var upstream = Run("qemu-11.0", ops);
        Assert.True(upstream.Clean, string.Join("; ", upstream.Signatures));
        Assert.Contains(upstream.Trace, l => l.StartsWith("# QEMU stops here", StringComparison.Ordinal));

        var nvidia = Run("nv-cdf5e75", ops);
        Assert.True(nvidia.Clean, string.Join("; ", nvidia.Signatures));   // the retry mapped it: nothing was ignored
        Assert.Contains(nvidia.Trace, l => l.StartsWith("iommufd_backend_map_dma  iommufd=3 ioas=1 iova=0x40000000 size=0x80000000", StringComparison.Ordinal));
        Assert.Contains(nvidia.Trace, l => l.StartsWith($"iommufd_backend_map_file_dma  iommufd=3 ioas=1 iova=0x{World.HotplugBase:x}", StringComparison.Ordinal));
    }
}

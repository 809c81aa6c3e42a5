using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>NVIDIA's container (PR #20) falls back to the VA map when MAP_FILE fails; upstream's
/// does not. Held with an IOAS that refuses every MAP_FILE (a kernel without it answers ENOTTY).</summary>
public class NvidiaContainerTests
{
    sealed class NoMapFile(IIoas inner) : IIoas
    {
        public ulong IovaAlignment => inner.IovaAlignment;
        public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags) => inner.Map(iova, length, userVa, flags);
        public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags) => Errno.ENOTTY;
        public Errno Unmap(ulong iova, ref ulong length) => inner.Unmap(iova, ref length);
        public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => inner.AreasIn(start, end);
    }

    static IReadOnlyList<string> Trace(string target) =>
        new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create(target),
            new RunOptions(Trace: true, Backend: (p, host) => new NoMapFile(new SimIoas(p, host)))).Run(FuzzProgram.Empty).Trace;

    [Theory]
    [InlineData("nv-cdf5e75", true)]
    [InlineData("proposed-defer-unmap", true)]
    [InlineData("qemu-11.0", false)]
    public void A_failed_map_file_falls_back_to_the_va_map_on_nvidia_trees_only(string target, bool fallsBack)
    {
        var trace = Trace(target);
        var failed = trace.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("iommufd_backend_map_file_dma", StringComparison.Ordinal) && x.l.EndsWith("(-1)")).ToArray();
        Assert.NotEmpty(failed);
        foreach (var (line, i) in failed)
        {
            string iova = line.Split(' ').First(w => w.StartsWith("iova=", StringComparison.Ordinal));
            bool fellBack = i + 1 < trace.Count && trace[i + 1].StartsWith("iommufd_backend_map_dma", StringComparison.Ordinal) && trace[i + 1].Contains(iova + " ");
            Assert.Equal(fallsBack, fellBack);
        }
    }
}

using VfioFuzz.Machine;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The RamDiscardManager as virtio-mem drives a listener: ranges intersected with the
/// listener's section (partial blocks at its edges included), the replay of a new listener one
/// populate per run of plugged blocks, stopping at the first failure.</summary>
public class VirtioMemTests
{
    const ulong B = VirtioMem.BlockSize;

    static (VirtioMem Vmem, List<(ulong, ulong)> Calls, RamDiscardListener Listener) Setup(int failAt = -1)
    {
        var vmem = new VirtioMem();
        foreach (int b in new[] { 1, 2, 3, 5 }) vmem.SetPopulated(b, true);
        var calls = new List<(ulong, ulong)>();
        // A section from the middle of block 1 to the middle of block 5.
        var listener = new RamDiscardListener(B + B / 2, 4 * B, (o, s) => { calls.Add((o, s)); return calls.Count == failAt ? -14 : 0; }, (_, _) => { });
        return (vmem, calls, listener);
    }

    [Fact]
    public void Replay_populates_each_plugged_run_once_cut_to_the_section()
    {
        var (vmem, calls, listener) = Setup();
        vmem.Register(listener);
        Assert.Equal([(B + B / 2, 2 * B + B / 2), (5 * B, B / 2)], calls);
    }

    [Fact]
    public void Replay_stops_at_the_first_failure()
    {
        var (vmem, calls, listener) = Setup(failAt: 1);
        vmem.Register(listener);
        Assert.Single(calls);
    }

    [Theory]
    [InlineData(0, 1, false, 0, 0)]
    [InlineData(1, 1, true, 3, 1)]          // in 2 MiB halves: block 1 is cut to its upper half
    [InlineData(2, 1, true, 4, 2)]
    [InlineData(5, 1, true, 10, 1)]
    [InlineData(6, 1, false, 0, 0)]
    public void Ranges_are_intersected_with_the_section(int block, int blocks, bool inside, int startHalves, int lengthHalves)
    {
        var (_, _, listener) = Setup();
        Assert.Equal(inside, VirtioMem.Intersect(listener, (ulong)block * B, (ulong)blocks * B, out ulong start, out ulong length));
        if (inside) Assert.Equal(((ulong)startHalves * B / 2, (ulong)lengthHalves * B / 2), (start, length));
    }
}

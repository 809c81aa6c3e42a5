using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// A RamDiscardManager's blocks and the IOAS must agree while a listener is registered for its
/// section: every populated block mapped (the device may DMA there: missing Stage-2 otherwise),
/// no discarded block mapped (virtio-mem gave that memory back to the host, which reuses it:
/// a device DMA there corrupts someone else's memory). Checked after every commit and
/// notification, for the blocks that changed state or that an IOAS call touched since.
/// </summary>
public sealed class RamDiscardOracle : Oracle
{
    // Bitsets of the 256 blocks: what the oracle last saw populated, and what to check next.
    readonly ulong[] _populated = new ulong[VirtioMem.Blocks / 64];
    readonly ulong[] _touched = new ulong[VirtioMem.Blocks / 64];
    bool _anyTouched;
    bool _registered;
    long _version = -1;

    public override void OnMap(RunContext ctx, in MapCall call) => Touch(call.Iova, call.Length);

    public override void OnUnmap(RunContext ctx, in UnmapCall call) => Touch(call.Iova, call.Length);

    void Touch(ulong iova, ulong length)
    {
        UInt128 end = (UInt128)iova + length, vmemEnd = (UInt128)VirtioMem.Gpa + VirtioMem.Size;
        if (iova >= vmemEnd || end <= VirtioMem.Gpa) return;
        int first = (int)((Math.Max(iova, VirtioMem.Gpa) - VirtioMem.Gpa) / VirtioMem.BlockSize);
        int last = (int)((ulong)(UInt128.Min(end, vmemEnd) - 1 - VirtioMem.Gpa) / VirtioMem.BlockSize);
        // Whole words at a time: an unmap of all RAM touches every block.
        for (int w = first >> 6; w <= last >> 6; w++)
        {
            int lo = w == first >> 6 ? first & 63 : 0, hi = w == last >> 6 ? last & 63 : 63;
            _touched[w] |= (ulong.MaxValue >> (63 - hi)) & (ulong.MaxValue << lo);
        }
        _anyTouched = true;
    }

    void Mark(ReadOnlySpan<ulong> blocks)
    {
        for (int w = 0; w < _touched.Length; w++) _touched[w] |= blocks[w];
        _anyTouched = true;
    }

    static bool Has(ulong[] set, int block) => (set[block >> 6] & (1UL << (block & 63))) != 0;

    readonly List<IoasArea> _areas = [];

    public override void AfterCommit(RunContext ctx)
    {
        var vmem = ctx.World.VirtioMem;
        bool registered = vmem.Listeners.Count > 0 && ShowsRegion(ctx.World.View, vmem.Region);
        if (registered && !_registered)
        {
            // Just registered: the replay mapped the populated blocks; one look at what the
            // IOAS holds over the region finds the blocks to check (not all 256).
            ctx.Ioas.AreasIn(VirtioMem.Gpa, (UInt128)VirtioMem.Gpa + VirtioMem.Size, _areas);
            foreach (var area in _areas) Touch(area.Iova, area.Length);
            Mark(vmem.PopulatedBits);
        }
        _registered = registered;
        if (vmem.Version != _version)
        {
            _version = vmem.Version;
            var now = vmem.PopulatedBits;
            for (int w = 0; w < _populated.Length; w++)
            {
                ulong changed = _populated[w] ^ now[w];
                if (changed == 0) continue;
                _populated[w] = now[w];
                _touched[w] |= changed;
                _anyTouched = true;
            }
        }
        if (!_anyTouched) return;
        if (registered)
            for (int w = 0; w < _touched.Length; w++)
                for (ulong bits = _touched[w]; bits != 0; bits &= bits - 1)
                {
                    int b = w * 64 + System.Numerics.BitOperations.TrailingZeroCount(bits);
                    Check(ctx, b, Has(_populated, b));
                }
        Array.Clear(_touched);
        _anyTouched = false;
    }

    /// <summary>The block where the view shows virtio-mem's memory: a BAR or other region placed
    /// over part of it is that region's, mapped (or not) as such (seen once BARs could be placed
    /// onto live sections: a 64 KiB BAR over a block read as the block's mapping).</summary>
    /// <summary>Whether any section of the view is virtio-mem's memory (a BAR may sit at its start).</summary>
    static bool ShowsRegion(FlatView view, MemoryRegion region)
    {
        foreach (var s in view.Sections)
            if (ReferenceEquals(s.Mr, region)) return true;
        return false;
    }

    static void Check(RunContext ctx, int block, bool populated)
    {
        ulong iova = VirtioMem.Gpa + (ulong)block * VirtioMem.BlockSize;
        UInt128 end = (UInt128)iova + VirtioMem.BlockSize;
        var sections = ctx.World.View.Sections;
        for (int i = ctx.World.View.FirstEndingAfter(iova); i < sections.Length; i++)
        {
            var s = sections[i];
            if (s.Gpa >= end) break;
            if (!ReferenceEquals(s.Mr, ctx.World.VirtioMem.Region)) continue;
            ulong from = Math.Max(s.Gpa, iova);
            UInt128 to = UInt128.Min(s.End, end);
            if (populated && !ctx.Covered(from, (ulong)(to - from)))
                Report(ctx, $"{FindingKinds.MissingStage2}:rdm-populated:{RegionRole.GuestRam.Name()}",
                    $"virtio-mem block {block} [0x{iova:x}, +0x{VirtioMem.BlockSize:x}) is plugged but [0x{from:x}, 0x{to:x}) of it is not in the IOAS",
                    "The RamDiscardManager populated the block (the guest plugged it) and the listener did not map it, or unmapped it " +
                    "since: guest memory the device cannot DMA to.",
                    "DMA to the block faults");
            else if (!populated && ctx.Ioas.Intersects(from, to))
                Report(ctx, $"{FindingKinds.AsymmetricUnmap}:rdm-discarded-mapped:{RegionRole.GuestRam.Name()}",
                    $"virtio-mem block {block} [0x{iova:x}, +0x{VirtioMem.BlockSize:x}) is unplugged but [0x{from:x}, 0x{to:x}) of it is still in the IOAS",
                    "The RamDiscardManager discarded the block (the guest unplugged it, or a failed plug rolled back) and the listener " +
                    "kept its mapping: the host gives that memory to someone else while the device can still DMA into it.",
                    "memory corruption: device DMA lands in reused host memory (the pages also stay pinned)");
        }
    }

    static void Report(RunContext ctx, string sig, string summary, string explanation, string effect)
    {
        if (ctx.Seen(sig)) return;
        var kind = sig[..sig.IndexOf(':')];
        ctx.Report(new Finding(kind, sig, ctx.Step, summary, explanation, effect));
    }
}

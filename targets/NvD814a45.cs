using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Targets.Model;

namespace VfioFuzz.Targets;

/// <summary>
/// NVIDIA d814a45f "vfio/listener: Skip DMA mapping for VFIO-owned RAM-device regions": in the
/// ram_device branch, after the alignment test, any section whose owner is a VFIO device is
/// not mapped. Meant for CXL.mem mmaps, it also skips every BAR mmap, the NVLink aperture
/// included; region_del is unchanged, so it still unmaps them.
/// </summary>
public sealed class NvD814a45 : NvidiaVfioListener
{
    public override TargetInfo Info { get; } = new(
        "nv-d814a45", "nvidia_stable-11.0", ["d814a45f7639"],
        "Skips dma_map for every VFIO-owned ram_device section; region_del unchanged.",
        TargetKind.Commit, "NVIDIA PR #17, merged 2026-05-28 into nvidia_unstable-10.1 (nvidia-tree.md); gated as a pick onto nvidia_stable-11.0");

    protected override bool SkipDmaMap(in Section s, ulong iova, UInt128 llsize)
    {
        if (!s.Mr.IsRamDevice || Env.Device(s.Mr.Owner) is null) return false;
        // d814a45 reuses the alignment event, so QEMU's trace says "is not aligned" for a
        // section that passed the alignment test just above: the note gives the real reason.
        TraceNoDmaMap(s, Container.Pgsizes);
        if (Env.Trace.Enabled)
            Env.Trace.Note($"nv-d814a45: [0x{iova:x}, 0x{(UInt128)iova + llsize:x}) of \"{s.Mr.Name}\" is aligned to 0x{Container.Pgsizes:x}; " +
                           $"its DMA map is skipped because a VFIO device ({s.Mr.Owner}) owns it (the event above is the alignment event d814a45 reuses)");
        return true;
    }
}

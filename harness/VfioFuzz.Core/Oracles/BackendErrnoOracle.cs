using VfioFuzz.Iommufd;

namespace VfioFuzz.Oracles;

/// <summary>
/// An errno a correct listener never provokes: anything but success, EFAULT (a BAR that
/// cannot be pinned, which QEMU expects) and EEXIST (reported as a double map) on map; anything
/// but success and ENOENT (reported as asymmetric when it is) on unmap. EINVAL means the
/// listener passed a misaligned, reserved or empty range.
/// </summary>
public sealed class BackendErrnoOracle : Oracle
{
    public override void OnMap(RunContext ctx, in MapCall call)
    {
        // An injected failure (fail-nth) is the harness's own errno, not the listener's doing.
        if (call.Injected || call.Result is Errno.Ok or Errno.EFAULT or Errno.EEXIST) return;
        Report(ctx, call.File ? "map-file" : "map", call.Result, call.Iova, call.Length);
    }

    public override void OnUnmap(RunContext ctx, in UnmapCall call)
    {
        if (call.Result is Errno.Ok or Errno.ENOENT) return;
        Report(ctx, "unmap", call.Result, call.Iova, call.Length);
    }

    static void Report(RunContext ctx, string op, Errno err, ulong iova, ulong length)
    {
        string sig = $"{FindingKinds.UnexpectedErrno}:{op}:{err}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.UnexpectedErrno, sig, ctx.Step,
            $"IOMMU_IOAS_{op.ToUpperInvariant().Replace('-', '_')} of [0x{iova:x}, +0x{length:x}) for {ctx.Section?.Key ?? "(no section)"} failed with {err}",
            "The kernel refused a call a correct listener would not make (misaligned, reserved, empty or overflowing range).",
            err == Errno.EINVAL ? "the range is not translated" : $"the call failed with {err}"));
    }
}

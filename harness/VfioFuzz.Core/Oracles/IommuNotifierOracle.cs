using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// An IOMMU notifier lives exactly as long as its IOMMU section: region_add registers it,
/// region_del unregisters it. One left registered after its section is gone keeps receiving
/// the guest's IOTLB MAPs and puts them into an IOAS the device's address space no longer
/// uses (after the vIOMMU is switched off, on top of the identity-mapped RAM), and nothing
/// ever flushes them.
/// </summary>
public sealed class IommuNotifierOracle : Oracle
{
    public override void AfterCommit(RunContext ctx)
    {
        foreach (var n in ctx.World.Viommu.Notifiers)
            if (!HasSection(ctx.World.View, n.Start, n.End)) Report(ctx, n.Start, n.End, "its IOMMU section was deleted");
    }

    public override void AtTeardown(RunContext ctx)
    {
        foreach (var n in ctx.World.Viommu.Notifiers) Report(ctx, n.Start, n.End, "the listener was unregistered");
    }

    static bool HasSection(FlatView view, ulong start, ulong end)
    {
        foreach (var s in view.Sections)
            if (s.Mr.IsIommu && s.OffsetInRegion <= start && (UInt128)end < (UInt128)s.OffsetInRegion + s.Size) return true;
        return false;
    }

    static void Report(RunContext ctx, ulong start, ulong end, string when)
    {
        string sig = $"{FindingKinds.AsymmetricUnmap}:leaked-notifier:{RegionRole.Viommu.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
            $"an IOMMU notifier for [0x{start:x}, 0x{end:x}] is still registered after {when}",
            "region_del of an IOMMU section must unregister the notifier its region_add registered. A leaked notifier keeps " +
            "mapping the guest's IOTLB entries into the IOAS for an address space the device no longer uses, and no region_del " +
            "will ever flush them.",
            "stale translations: later guest IOTLB MAPs land in the IOAS unowned"));
    }
}

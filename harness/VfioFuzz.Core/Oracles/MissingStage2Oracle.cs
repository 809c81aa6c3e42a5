using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// After every transaction, every live section the profile says must be translatable (guest
/// RAM; ATS-reachable device memory such as the NVLink aperture or a CXL DPA) must be in the
/// IOAS, over the part any listener could map (host-page trimmed, IOMMU-page aligned). And a
/// device's ATS access to a GPA the IOAS cannot translate is the fault-replay livelock it
/// causes: the GPU faults, UVM replays, nothing changed, it faults again, with no host log.
/// </summary>
public sealed class MissingStage2Oracle : Oracle
{
    // What the last check saw. Maps only add coverage, so until an unmap happens a section
    // checked then is still covered (or already reported): only the new sections need a look.
    FlatView _checked = FlatView.Empty;
    long _unmapsAtCheck = -1;

    public override void AfterCommit(RunContext ctx)
    {
        var view = ctx.World.View;
        if (ctx.IoasUnmaps != _unmapsAtCheck)
            foreach (var s in view.Sections) Check(ctx, s);
        else
            foreach (var s in view.NotIn(_checked)) Check(ctx, s);
        _checked = view;
        _unmapsAtCheck = ctx.IoasUnmaps;
        if (ctx.World.Viommu.Enabled) CheckIotlb(ctx);
    }

    /// <summary>Behind a vIOMMU the IOAS must hold every guest IOTLB entry the listener was
    /// offered as mappable memory of a role that needs Stage-2 (the device reaches it by IOVA).</summary>
    static void CheckIotlb(RunContext ctx)
    {
        foreach (var entry in ctx.World.Viommu.Entries)
        {
            var (mappable, role) = ctx.Offers[entry.Iova];
            if (!mappable || !ctx.Profile.RequiresStage2(role) || ctx.Covered(entry.Iova, entry.Size)) continue;
            string sig = $"{FindingKinds.MissingStage2}:viommu:{role.Name()}";
            if (ctx.Seen(sig)) continue;
            ctx.Report(new Finding(FindingKinds.MissingStage2, sig, ctx.Step,
                $"the guest mapped IOVA [0x{entry.Iova:x}, +0x{entry.Size:x}) to GPA 0x{entry.Gpa:x} ({role.Name()}) but the IOAS has no translation for it",
                $"On {ctx.Profile.Name}, {role.Name()} must be translatable in Stage-2. Behind a vIOMMU the device uses IOVAs, and " +
                "vfio_iommu_map_notify is the only path that puts them in the IOAS: a MAP notification it did not map leaves the " +
                "guest's own mapping untranslatable.",
                "the device's DMA or ATS translation of that IOVA faults; see the ats-fault-livelock finding when the program makes one"));
        }
    }

    static void Check(RunContext ctx, in Section s)
    {
        if (!ctx.Profile.RequiresStage2(s.Mr.Role)) return;
        // A RamDiscardManager's section is mapped block by block as the guest plugs them:
        // the ram-discard oracle holds the populated blocks to Stage-2.
        if (ctx.World.DiscardManagerOf(s.Mr) is not null) return;
        if (!ctx.Profile.Geometry.TryMappableRange(s, out ulong iova, out ulong length)) return;
        if (ctx.Covered(iova, length)) return;
        string sig = $"{FindingKinds.MissingStage2}:{s.Mr.Role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.MissingStage2, sig, ctx.Step,
            $"{s.Key} is live but [0x{iova:x}, 0x{(UInt128)iova + length:x}) is not in the IOAS",
            $"On {ctx.Profile.Name}, {s.Mr.Role.Name()} must be translatable by the SMMU's Stage-2 (the IOAS): " +
            "a device that reaches it (directly or after UVM migrates a page there) gets no translation.",
            "any ATS translation there faults; see the ats-fault-livelock finding when the program makes one"));
    }

    public override void OnAtsAccess(RunContext ctx, PciDevice device, ulong gpa)
    {
        if (ctx.World.Viommu.Enabled)
        {
            AtsThroughViommu(ctx, device, gpa);
            return;
        }
        var found = ctx.World.View.Find(gpa);
        // No RAM there: the guest itself has no memory at that GPA; the fault is the guest's
        // bug and unrecoverable, not a livelock.
        if (found is not { } s || !s.Mr.IsRam) return;
        // Unplugged virtio-mem memory is not the guest's to touch: its own bug, not a livelock.
        if (ctx.World.DiscardManagerOf(s.Mr) is { } rdm && !rdm.IsPopulatedAt(gpa)) return;
        if (!ctx.Profile.Geometry.TryMappableRange(s, out ulong iova, out ulong length)) return;
        if (gpa < iova || gpa - iova >= length) return;
        ulong page = gpa & ~(ctx.Profile.IommuPageSize - 1);
        if (ctx.Covered(page, ctx.Profile.IommuPageSize)) return;
        string sig = $"{FindingKinds.MissingStage2}:ats-fault-livelock:{s.Mr.Role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.MissingStage2, sig, ctx.Step,
            $"{device.Id} ATS translation of 0x{gpa:x} ({s.Key}) faults: no Stage-2 entry",
            "The device asks the SMMU to translate a GPA that is live guest memory but absent from the IOAS. The GPU takes a " +
            "replayable fault, the driver services it (nothing to fix: the page is resident), replays, and faults again: the " +
            "IOAS never changes, so the loop never progresses. Seen as a hang, then Xid 31 MMU Fault FAULT_PTE on cancel.",
            "livelock: the guest hangs with no host log"));
    }

    /// <summary>Behind a vIOMMU the address is an IOVA: with no IOTLB entry the guest faults
    /// itself (not a livelock); with one the listener was offered as mappable memory, a hole
    /// in the IOAS is the same replay livelock as without a vIOMMU.</summary>
    static void AtsThroughViommu(RunContext ctx, PciDevice device, ulong iova)
    {
        if (ctx.World.Viommu.Lookup(iova) is not { } entry) return;
        var (mappable, role) = ctx.Offers[entry.Iova];
        ulong page = iova & ~(ctx.Profile.IommuPageSize - 1);
        if (!mappable || ctx.Covered(page, ctx.Profile.IommuPageSize)) return;
        string sig = $"{FindingKinds.MissingStage2}:ats-fault-livelock:{role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.MissingStage2, sig, ctx.Step,
            $"{device.Id} ATS translation of IOVA 0x{iova:x} (guest IOTLB -> GPA 0x{entry.Gpa + (iova - entry.Iova):x}, {role.Name()}) faults: no Stage-2 entry",
            "The guest's vIOMMU maps this IOVA to live memory, but the IOAS has no translation for it: the device faults, the " +
            "driver replays, nothing changes. The MAP notification for it was not mapped.",
            "livelock: the guest hangs with no host log"));
    }
}

using VfioFuzz.Listener;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// memory_region_ref and unref balance per owner: every region_add that passes the section
/// checks takes one, the matching region_del drops it, whether the map succeeded, failed or
/// was skipped. An unref with none held (upstream's sPAPR window-add failure, §1.7) frees an
/// owner the memory core still uses; a ref left after the listener is unregistered pins the
/// owner (a hot-unplugged device that never finalizes).
/// </summary>
public sealed class RefBalanceOracle : Oracle
{
    public override void Attach(RunContext ctx) =>
        ctx.Refs.Changed += (owner, count, role) =>
        {
            if (count < 0)
                Report(ctx, "ref-underflow", role, $"region_del dropped a ref of {owner} that no region_add took (count {count})",
                    "memory_region_unref without the matching memory_region_ref: the memory core frees or finalizes an owner its " +
                    "FlatViews still reference (the sPAPR window-add failure path upstream, qemu-listener.md §1.7).",
                    "use-after-free of the owner once RCU drops the old FlatView");
        };

    public override void AtTeardown(RunContext ctx)
    {
        for (int i = 0; i < ctx.Refs.Owners.Count; i++)
        {
            var (owner, count, role) = ctx.Refs.Owners[i];
            if (count <= 0) continue;
            Report(ctx, "ref-leak", role, $"{owner} still holds {count} listener ref(s) after memory_listener_unregister",
                "region_del did not drop a ref its region_add took: the owner can never be finalized (a hot-unplugged device stays).",
                "leaked: the owner object is pinned for the life of the process");
        }
    }

    static void Report(RunContext ctx, string what, RegionRole role, string summary, string explanation, string effect)
    {
        string sig = $"{FindingKinds.AsymmetricUnmap}:{what}:{role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step, summary, explanation, effect));
    }
}

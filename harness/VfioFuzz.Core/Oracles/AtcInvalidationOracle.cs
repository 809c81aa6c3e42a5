using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// Every unmap that removes a translation makes the SMMU send CMDQ_OP_ATC_INV to the ATS
/// devices that may have cached it. A device that is resetting or initializing cannot answer
/// (on profiles that say so), and the invalidation times out: fatal for the device. What a
/// device may have cached: its own ATS-reachable memory wherever it has been mapped, and
/// every page it translated through ATS.
/// </summary>
public sealed class AtcInvalidationOracle : Oracle
{
    readonly Dictionary<string, List<(ulong Start, UInt128 End)>> _reach = [];

    // One signature per device kind, formatted once: a resetting device's reach is hit by
    // every unmap of a system reset, long after the first report.
    static readonly string[] Signatures =
        [.. Enum.GetValues<DeviceKind>().Select(k => $"{FindingKinds.Timeout}:atc-inv:{k.Name()}")];

    // The view at the last commit: what a device may have cached only grows, so only the
    // sections new since then add reach.
    FlatView _seen = FlatView.Empty;

    public override void AfterCommit(RunContext ctx)
    {
        var view = ctx.World.View;
        var added = view.NotIn(_seen);
        _seen = view;
        foreach (var s in added)
        {
            if (!s.Mr.Role.IsAtsReachable() || ctx.World.OwnerOf(s.Mr) is not { Spec.Ats: true } dev) continue;
            Remember(dev, s.Gpa, s.End);
        }
    }

    /// <summary>A device plugged back is a new device: its ATC holds nothing of what the one
    /// unplugged had cached.</summary>
    public override void OnDeviceHotplug(RunContext ctx, PciDevice device, bool plugged) => _reach.Remove(device.Id);

    public override void OnAtsAccess(RunContext ctx, PciDevice device, ulong gpa)
    {
        ulong page = gpa & ~(ctx.Profile.IommuPageSize - 1);
        Remember(device, page, (UInt128)page + ctx.Profile.IommuPageSize);
    }

    public override void OnUnmap(RunContext ctx, in UnmapCall call)
    {
        // An unmap that removed nothing changes no page table and sends no invalidation.
        if (call.Removed.Count == 0 || ctx.DevicesDetached) return;
        foreach (var dev in ctx.World.Devices)
        {
            if (!dev.Spec.Ats || dev.State == DeviceState.Running || !ctx.Profile.AtcInvTimesOutDuringReset.Contains(dev.Spec.Kind)) continue;
            if (!_reach.TryGetValue(dev.Id, out var ranges)) continue;
            for (int i = 0; i < call.Removed.Count; i++)
            {
                var area = call.Removed[i];
                if (!Reaches(ranges, area)) continue;
                string sig = Signatures[(int)dev.Spec.Kind];
                if (ctx.Seen(sig)) return;
                ctx.Report(new Finding(FindingKinds.Timeout, sig, ctx.Step,
                    $"unmap of [0x{area.Iova:x}, 0x{area.End:x}) while {dev.Id} is {dev.State.Name()}: ATC_INV timeout",
                    $"The unmap removed a translation {dev.Id} may hold in its ATC, so the SMMU sends CMDQ_OP_ATC_INV; a " +
                    $"{dev.Spec.Kind.Name()} that is {dev.State.Name()} cannot answer it and the command queue times out " +
                    "(arm-smmu-v3: CMD_SYNC timeout). Keeping the mapping until the device is up, and unmapping then, avoids it.",
                    "fatal: the device is lost until the next reset"));
                return;
            }
        }
    }

    static bool Reaches(List<(ulong Start, UInt128 End)> ranges, IoasArea area)
    {
        foreach (var r in ranges)
            if (r.Start < area.End && area.Iova < r.End) return true;
        return false;
    }

    void Remember(PciDevice device, ulong start, UInt128 end)
    {
        if (!_reach.TryGetValue(device.Id, out var ranges)) _reach[device.Id] = ranges = [];
        if (!ranges.Contains((start, end))) ranges.Add((start, end));
    }
}

using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Targets.Model;
using VfioFuzz.Machine;

namespace VfioFuzz.Targets;

/// <summary>
/// The fix the revert message proposes: keep the mapping, defer only the unmap. Everything is
/// mapped as upstream; but while the owning device is resetting or initializing, region_del
/// of its ATS-reachable memory queues the unmap instead of issuing it (the device could not
/// answer the ATC invalidation), and the queue is flushed when the device is running again.
/// </summary>
public sealed class ProposedDeferUnmap : NvidiaVfioListener
{
    readonly List<(string Device, ulong Iova, UInt128 Size)> _deferred = [];

    public override TargetInfo Info { get; } = new(
        "proposed-defer-unmap", "unknown", ["d814a45f7639", "cdf5e75"],
        "Maps everything; defers the unmap of a resetting device's ATS-reachable ranges until init-done.",
        TargetKind.Proposal, "the fix PR #26 proposes on top of its revert (keep the map, defer the unmap while the device is in init/reset); no commit implements it");

    protected override void DmaUnmap(in Section s, ulong iova, UInt128 llsize)
    {
        var owner = Env.Device(s.Mr.Owner);
        if (owner is not null && owner.State != DeviceState.Running && s.Mr.Role.IsAtsReachable())
        {
            Env.Trace.Note($"defer-unmap: {owner.Id} is {owner.State.Name()}, unmap 0x{iova:x}+0x{llsize:x} deferred");
            _deferred.Add((owner.Id, iova, llsize));
            return;
        }
        base.DmaUnmap(s, iova, llsize);
    }

    public override void DeviceStateChanged(PciDevice device)
    {
        if (device.State != DeviceState.Running) return;
        foreach (var (_, iova, size) in _deferred.Where(d => d.Device == device.Id).ToArray())
            Container.DmaUnmap(iova, size);
        _deferred.RemoveAll(d => d.Device == device.Id);
    }
}

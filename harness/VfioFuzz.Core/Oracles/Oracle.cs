using VfioFuzz.Machine;

namespace VfioFuzz.Oracles;

/// <summary>
/// An oracle watches a run through these hooks and reports findings to the context. Each
/// hook is a point where the real system would misbehave: a call into the IOAS, the end of
/// a transaction, a device's ATS access, the end of the run.
/// </summary>
public abstract class Oracle
{
    /// <summary>Before the run starts: an oracle that watches the context itself subscribes here.</summary>
    public virtual void Attach(RunContext ctx) { }

    public virtual void OnMap(RunContext ctx, in MapCall call) { }
    public virtual void OnUnmap(RunContext ctx, in UnmapCall call) { }
    public virtual void AfterCommit(RunContext ctx) { }
    public virtual void OnAtsAccess(RunContext ctx, PciDevice device, ulong gpa) { }

    /// <summary>A device left the machine or came back while the container stayed (another
    /// device holds it).</summary>
    public virtual void OnDeviceHotplug(RunContext ctx, PciDevice device, bool plugged) { }
    public virtual void AtTeardown(RunContext ctx) { }

    /// <summary>The default set, in the order they report.</summary>
    public static Oracle[] CreateAll() =>
        [new AsymmetricUnmapOracle(), new MissingStage2Oracle(), new AtcInvalidationOracle(), new BackendErrnoOracle(), new IommuNotifierOracle(), new RefBalanceOracle(), new RamDiscardOracle(), new DirtyTrackingOracle()];
}

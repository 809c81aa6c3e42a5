using VfioFuzz.Memory;
using VfioFuzz.Machine;

namespace VfioFuzz.Listener;

/// <summary>
/// The listener under test: one model of QEMU's VFIO MemoryListener at one patch state.
/// The harness calls it exactly as memory_region_transaction_commit calls a listener.
/// Subclasses in targets/ are discovered by reflection; each needs a public parameterless
/// constructor and a fresh instance per run (a listener holds container state).
/// </summary>
public abstract class ListenerTarget
{
    ListenerEnvironment? _env;

    public abstract TargetInfo Info { get; }

    protected ListenerEnvironment Env => _env ?? throw new InvalidOperationException("listener not registered");

    /// <summary>vfio_listener_register: called once, before the initial replay of the view.</summary>
    public virtual void Register(ListenerEnvironment env) => _env = env;

    public virtual void Begin() { }
    public abstract void RegionAdd(in Section section);
    public abstract void RegionDel(in Section section);
    public virtual void Commit() { }

    /// <summary>Called when registration's initial replay is over (bc->initialized = true).</summary>
    public virtual void Initialized() { }

    /// <summary>log_global_start / log_global_stop: migration turned global dirty tracking on or off.</summary>
    public virtual void LogGlobal(bool started) { }

    /// <summary>A device changed reset state. Upstream QEMU's listener does not look; a patch may.</summary>
    public virtual void DeviceStateChanged(PciDevice device) { }
}

/// <summary>QEMU stopped itself (hw_error, abort, assertion): a fatal outcome for the guest.</summary>
public sealed class QemuAbortException(string message) : Exception(message);

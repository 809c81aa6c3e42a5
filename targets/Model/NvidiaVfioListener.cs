using VfioFuzz.Listener;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// The listener of NVIDIA's QEMU tree, before the patch a target models: upstream's listener
/// over NVIDIA's container (<see cref="NvidiaIommufdContainer"/>). Every nv-* target, and the
/// proposals written for NVIDIA's tree, derive from it; upstream targets keep upstream's container.
/// </summary>
public abstract class NvidiaVfioListener : VfioListener
{
    protected override IommufdContainer CreateContainer(ListenerEnvironment env) => new NvidiaIommufdContainer(env);
}

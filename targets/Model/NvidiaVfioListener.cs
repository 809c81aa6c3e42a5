using VfioFuzz.Listener;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// The listener of NVIDIA's QEMU tree, before the patch a target models: upstream's listener
/// over NVIDIA's iommufd container (<see cref="NvidiaIommufdContainer"/>; over type1
/// the legacy container, which NVIDIA's PR #20 does not touch). Every nv-* target, and the
/// proposals written for NVIDIA's tree, derive from it; upstream targets keep upstream's container.
/// </summary>
public abstract class NvidiaVfioListener : VfioListener
{
    protected override IommufdContainer CreateIommufdContainer(ListenerEnvironment env) => new NvidiaIommufdContainer(env);
}

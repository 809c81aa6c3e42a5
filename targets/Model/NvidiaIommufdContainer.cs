using VfioFuzz.Listener;
using VfioFuzz.Memory;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// NVIDIA's container (NVIDIA PR #20, seen in the indexed container.c; nvidia-tree.md): when
/// the map of a RAMBlock with an fd (IOMMU_IOAS_MAP_FILE: a dmabuf BAR, memfd RAM) fails, it
/// maps the same range by VA (IOMMU_IOAS_MAP) instead of failing. Which failures fall back is
/// not known here: every failure is modelled as falling back; nor is any message the fallback
/// prints, so none is traced beyond the two backend calls.
/// </summary>
public sealed class NvidiaIommufdContainer(ListenerEnvironment env) : IommufdContainer(env)
{
    public override int DmaMap(ulong iova, ulong size, MemoryRegion mr, ulong vaddr, bool readOnly)
    {
        int ret = base.DmaMap(iova, size, mr, vaddr, readOnly);
        return ret != 0 && Env.Host[mr].Fd >= 0 ? MapDma(iova, size, vaddr, readOnly) : ret;
    }
}

using VfioFuzz.Iommufd;
using VfioFuzz.Oracles;
using VfioFuzz.Type1;

namespace VfioFuzz.Running;

/// <summary>Puts the oracles between the listener's legacy container and the type1 kernel, as
/// <see cref="ObservedIoas"/> does for iommufd: every call passes through unchanged and is then
/// shown to each oracle in the same form (a MAP_DMA as a fixed-IOVA map with its read/write
/// permission, an UNMAP_DMA with what it removed), so one set of oracles judges both.</summary>
public sealed class ObservedType1(IType1Iommu inner, RunContext ctx, Oracle[] oracles) : IType1Iommu
{
    public ulong IovaPgsizes => inner.IovaPgsizes;

    public bool UnmapAllSupported => inner.UnmapAllSupported;

    public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags)
    {
        var injected = ctx.TakeInjectedFailure();
        var result = injected != Errno.Ok ? injected : inner.MapDma(iova, size, vaddr, flags);
        var asIoas = IoasMapFlags.FixedIova
            | ((flags & Type1MapFlags.Read) != 0 ? IoasMapFlags.Readable : IoasMapFlags.None)
            | ((flags & Type1MapFlags.Write) != 0 ? IoasMapFlags.Writeable : IoasMapFlags.None);
        return ObservedIoas.ObserveMap(ctx, oracles, new MapCall(iova, size, File: false, asIoas, result, injected != Errno.Ok));
    }

    public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
    {
        ulong requested = size;
        bool all = (flags & Type1UnmapFlags.All) != 0;
        UInt128 end = all ? (UInt128)ulong.MaxValue + 1 : (UInt128)iova + requested;
        // type1 v2 removes all it intersects or nothing (a bisected entry fails the whole call).
        var before = inner.AreasIn(all ? 0 : iova, end);
        var result = inner.UnmapDma(iova, ref size, flags);
        ctx.IoasCalls++;
        ctx.IoasUnmaps++;
        var call = new UnmapCall(iova, all ? ulong.MaxValue : requested, result, result == Errno.Ok ? before : []);
        foreach (var o in oracles) o.OnUnmap(ctx, call);
        return result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => inner.AreasIn(start, end);

    public bool Intersects(ulong start, UInt128 end) => inner.Intersects(start, end);

    public bool Covers(ulong iova, ulong length) => inner.Covers(iova, length);
}

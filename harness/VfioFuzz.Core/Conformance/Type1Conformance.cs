using System.Collections.Immutable;
using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Type1;

namespace VfioFuzz.Conformance;

/// <summary>One type1 call of a case and the kernel's answer: its request in words (memory by
/// name, so a recording does not depend on where a process mapped it), errno, and for an
/// unmap the size the kernel wrote back.</summary>
public sealed record Type1Call(string Request, Errno Result, ulong? Unmapped = null)
{
    public string Answer => Unmapped is { } n ? $"{Result} (0x{n:x} unmapped)" : Result.ToString();
}

/// <summary>The answers of one type1 container to every case, and how it was set up.</summary>
public sealed record Type1Recording(string Path, string Kernel, string Machine, string Container, bool Domain, ulong Pgsizes,
    bool UnmapAll, string Recorded, ImmutableArray<(string Case, ImmutableArray<Type1Call> Calls)> Cases,
    Type1Kernel ServedBy = Type1Kernel.VfioIommuType1);

/// <summary>
/// The type1 conformance suite: the rules <see cref="SimType1"/> claims (map: no permission,
/// zero size, unaligned IOVA or vaddr, wrapping IOVA or vaddr, any overlap; unmap: nothing
/// there, a bisected entry at either edge, exact, a superset with holes, zero or unaligned
/// size, a wrapping range, a range reaching 2^64 exactly, unmap-all and its argument rules),
/// each case on a fresh container. Run on a real type1 container (the lab, on the mdev's group)
/// it records the answers; <see cref="Compare"/> holds the simulator to them call by call.
/// </summary>
public static class Type1Conformance
{
    const ulong K = 1024;
    const ulong Base = 0x10_0000;
    const ulong High = 1UL << 63;
    const Type1MapFlags Rw = Type1MapFlags.Read | Type1MapFlags.Write;

    abstract record Step;
    sealed record Map(ulong Iova, ulong Size, string Memory, ulong Offset = 0, Type1MapFlags Flags = Rw) : Step;
    sealed record Unmap(ulong Iova, ulong Size, Type1UnmapFlags Flags = Type1UnmapFlags.None) : Step;

    static readonly (string Name, Step[] Steps)[] Cases =
    [
        ("map-then-remap-same-range", [new Map(Base, 64 * K, "anon"), new Map(Base, 64 * K, "anon")]),
        ("map-partial-overlap", [new Map(Base, 64 * K, "anon"), new Map(Base + 60 * K, 8 * K, "anon", 64 * K)]),
        ("map-read-only", [new Map(Base, 64 * K, "anon", 0, Type1MapFlags.Read), new Unmap(Base, 64 * K)]),
        ("map-without-read-or-write", [new Map(Base, 4 * K, "anon", 0, Type1MapFlags.None)]),
        ("map-size-zero", [new Map(Base, 0, "anon")]),
        ("map-misaligned-iova", [new Map(Base + 0x400, 4 * K, "anon")]),
        ("map-misaligned-size", [new Map(Base, 4 * K + 0x400, "anon")]),
        ("map-misaligned-vaddr", [new Map(Base, 4 * K, "anon", 0x400)]),
        ("map-iova-wraps", [new Map(ulong.MaxValue - 4 * K + 1, 8 * K, "anon")]),
        ("map-last-page", [new Map(ulong.MaxValue - 4 * K + 1, 4 * K, "anon"), new Unmap(High, High)]),
        ("unmap-range-reaching-2^64", [new Map(High + 64 * K, 64 * K, "anon"), new Unmap(ulong.MaxValue - 4 * K + 1, 4 * K),
            new Unmap(High, High), new Unmap(0, 0, Type1UnmapFlags.All)]),
        ("map-bar-mmap", [new Map(Base, 64 * K, "bar"), new Unmap(Base, 64 * K)]),
        ("map-unmapped-vaddr", [new Map(Base, 4 * K, "none")]),
        ("unmap-nothing-mapped", [new Unmap(Base + 0x80_0000, 4 * K)]),
        ("unmap-bisect-head", [new Map(Base, 64 * K, "anon"), new Unmap(Base, 4 * K), new Map(Base, 64 * K, "anon")]),
        ("unmap-bisect-tail", [new Map(Base, 64 * K, "anon"), new Unmap(Base + 60 * K, 4 * K)]),
        ("unmap-straddle-start", [new Map(Base + 64 * K, 64 * K, "anon"), new Unmap(Base + 60 * K, 8 * K)]),
        ("unmap-exact", [new Map(Base, 64 * K, "anon"), new Unmap(Base, 64 * K), new Unmap(Base, 64 * K)]),
        ("unmap-superset-with-holes", [new Map(Base + 64 * K, 64 * K, "anon"), new Map(Base + 192 * K, 64 * K, "anon", 64 * K), new Unmap(Base, 512 * K)]),
        ("unmap-contained-then-bisected", [new Map(Base, 64 * K, "anon"), new Map(Base + 64 * K, 64 * K, "anon", 64 * K),
            new Unmap(Base, 68 * K), new Map(Base, 64 * K, "anon")]),
        ("unmap-size-zero", [new Unmap(Base, 0)]),
        ("unmap-misaligned-iova", [new Unmap(Base + 0x400, 4 * K)]),
        ("unmap-misaligned-size", [new Unmap(Base, 4 * K + 0x400)]),
        ("unmap-wraps", [new Unmap(High, High + 4 * K)]),
        ("unmap-all", [new Map(Base, 64 * K, "anon"), new Map(Base + 128 * K, 64 * K, "anon", 64 * K),
            new Unmap(0, 0, Type1UnmapFlags.All), new Unmap(0, 0, Type1UnmapFlags.All)]),
        ("unmap-all-with-a-range", [new Map(Base, 64 * K, "anon"), new Unmap(Base, 64 * K, Type1UnmapFlags.All)]),
    ];

    public static int Count => Cases.Length;

    /// <summary>Runs every case, each on a fresh container from <paramref name="container"/>
    /// (given the memory the case maps from).</summary>
    public static ImmutableArray<(string Case, ImmutableArray<Type1Call> Calls)> Record(Func<HostMemory, IType1Iommu> container)
    {
        var cases = ImmutableArray.CreateBuilder<(string, ImmutableArray<Type1Call>)>();
        foreach (var (name, steps) in Cases)
        {
            var host = ConformanceSuite.CreateMemory(KernelFlavor.NoDmabuf);
            var kernel = container(host);
            try { cases.Add((name, Run(kernel, host, steps))); }
            finally { (kernel as IDisposable)?.Dispose(); }
        }
        return cases.ToImmutable();
    }

    static ImmutableArray<Type1Call> Run(IType1Iommu kernel, HostMemory host, Step[] steps)
    {
        var calls = ImmutableArray.CreateBuilder<Type1Call>();
        foreach (var step in steps)
            switch (step)
            {
                case Map m:
                    ulong va = m.Memory switch { "anon" => host.Vmas[0].Va, "bar" => host.Vmas[1].Va, _ => 0x1000 } + m.Offset;
                    calls.Add(new($"MAP_DMA iova=0x{m.Iova:x} size=0x{m.Size:x} vaddr={m.Memory}+0x{m.Offset:x} flags=0x{(uint)m.Flags:x}",
                        kernel.MapDma(m.Iova, m.Size, va, m.Flags)));
                    break;
                case Unmap u:
                    ulong size = u.Size;
                    var result = kernel.UnmapDma(u.Iova, ref size, u.Flags);
                    calls.Add(new($"UNMAP_DMA iova=0x{u.Iova:x} size=0x{u.Size:x} flags=0x{(uint)u.Flags:x}", result, size));
                    break;
            }
        return calls.ToImmutable();
    }

    /// <summary>Runs the simulator through every case, set up as the recording's container
    /// was (its page sizes; with or without a domain; vfio_iommu_type1 or iommufd's compat
    /// layer behind it), and lists each answer that differs.</summary>
    public static IReadOnlyList<ConformanceDifference> Compare(Type1Recording recording)
    {
        var differences = new List<ConformanceDifference>();
        // Only the smallest page matters to type1's checks; without a domain there are no IOVA
        // ranges. With a domain the real ranges are not recorded here: the whole space stands in.
        var geometry = new IoasGeometry(recording.Pgsizes & (~recording.Pgsizes + 1), [(0, ulong.MaxValue)]);
        var ours = Record(host => recording.ServedBy == Type1Kernel.IommufdCompat
            ? new SimIommufdCompat(geometry, host)
            : new SimType1(geometry, host, recording.Domain));
        foreach (var (name, sim) in ours)
        {
            var real = recording.Cases.FirstOrDefault(c => c.Case == name).Calls;
            if (real.IsDefault) { differences.Add(new(name, "not in the recording")); continue; }
            CallByCall.Compare(name, real, sim, (a, b) => a.Request == b.Request, c => c.Request, c => c.Answer, differences);
        }
        return differences;
    }

    public static string Summary(IReadOnlyList<ConformanceDifference> differences, string against) =>
        $"type1 conformance: {Count - differences.Select(d => d.Case).Distinct().Count()}/{Count} agree with {against}";
}

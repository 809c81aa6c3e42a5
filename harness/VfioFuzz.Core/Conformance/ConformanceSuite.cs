using System.Collections.Immutable;
using VfioFuzz.Cassettes;
using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Conformance;

/// <summary>
/// The fixed list of ioctl sequences that covers every rule the simulator claims: overlap
/// EEXIST, misalignment and aperture/reserved EINVAL, EOVERFLOW, length 0, a map of memory
/// that cannot be pinned (VM_PFNMAP, unmapped) EFAULT, MAP_FILE on a kernel without it,
/// unmap of nothing, split/truncate/straddle ENOENT, ENOENT after removing the contained
/// areas, the length out-parameter, unmap-all. Each case runs on a fresh IOAS that has a
/// (mock) domain attached and the SMMU MSI window reserved, like QEMU's; the IOVA geometry
/// itself is the first thing compared. Run against the real kernel (in the lab) it records a
/// cassette; <see cref="Compare"/> holds the simulator to that cassette call by call.
/// </summary>
public static class ConformanceSuite
{
    /// <summary>The mock domain's aperture (MOCK_APERTURE_START/LAST) and what we reserve in it.</summary>
    public const ulong Base = 0x100_0000;
    public static readonly (ulong Start, ulong Last) Aperture = (Base, 0x7fff_ffff);
    public static readonly (ulong Start, ulong Last) MsiWindow = (0x800_0000, 0x80f_ffff);

    const ulong K = 1024;
    const IoasMapFlags Rw = IoasMapFlags.FixedIova | IoasMapFlags.Readable | IoasMapFlags.Writeable;
    const IoasMapFlags Ro = IoasMapFlags.FixedIova | IoasMapFlags.Readable;
    const ulong UnmappedVa = 0x1000;

    /// <summary>One step: a map of a named memory (anon: pinnable RAM, bar: a VM_PFNMAP mmap,
    /// none: an unmapped VA), a map-file, or an unmap.</summary>
    abstract record Step;
    sealed record Map(ulong Iova, ulong Length, string Memory, ulong Offset = 0, IoasMapFlags Flags = Rw) : Step;
    sealed record MapFile(ulong Iova, ulong Length) : Step;
    sealed record Unmap(ulong Iova, ulong Length) : Step;

    static readonly (string Name, Step[] Steps)[] Cases =
    [
        ("map-then-remap-same-range", [new Map(Base, 64 * K, "anon"), new Map(Base, 64 * K, "anon")]),
        ("map-partial-overlap", [new Map(Base, 64 * K, "anon"), new Map(Base + 60 * K, 8 * K, "anon", 64 * K)]),
        ("map-read-only", [new Map(Base, 64 * K, "anon", 0, Ro), new Unmap(Base, 64 * K)]),
        ("map-misaligned-iova", [new Map(Base + 0x400, 4 * K, "anon")]),
        ("map-misaligned-length", [new Map(Base, 4 * K + 0x400, "anon")]),
        ("map-length-zero", [new Map(Base, 0, "anon")]),
        ("map-without-read-or-write", [new Map(Base, 4 * K, "anon", 0, IoasMapFlags.FixedIova)]),
        // The user address's offset in its page against the IOVA alignment (iopt_insert_area).
        ("map-vaddr-off-alignment", [new Map(Base, 4 * K, "anon", 0x400)]),
        ("map-vaddr-half-page", [new Map(Base, 4 * K, "anon", 0x800), new Unmap(Base, 4 * K)]),
        ("map-iova-overflows", [new Map(ulong.MaxValue - 4 * K + 1, 8 * K, "anon")]),
        ("map-length-u64-max", [new Map(0, ulong.MaxValue, "anon")]),
        ("map-below-aperture", [new Map(0x10_0000, 4 * K, "anon")]),
        ("map-above-aperture", [new Map(0x8000_0000, 4 * K, "anon")]),
        ("map-into-reserved-msi-window", [new Map(MsiWindow.Start, 4 * K, "anon")]),
        ("map-straddling-reserved-window", [new Map(MsiWindow.Start - 4 * K, 8 * K, "anon")]),
        ("map-pfnmap-bar-mmap", [new Map(Base, 64 * K, "bar")]),
        ("map-unmapped-va", [new Map(Base, 4 * K, "none")]),
        ("map-file-on-this-kernel", [new MapFile(Base, 64 * K)]),
        ("unmap-nothing-mapped", [new Unmap(Base + 0x80_0000, 4 * K)]),
        ("unmap-split-head", [new Map(Base, 64 * K, "anon"), new Unmap(Base, 4 * K), new Map(Base, 64 * K, "anon")]),
        ("unmap-truncate-tail", [new Map(Base, 64 * K, "anon"), new Unmap(Base + 60 * K, 4 * K)]),
        ("unmap-straddle-start", [new Map(Base + 64 * K, 64 * K, "anon"), new Unmap(Base + 60 * K, 8 * K)]),
        ("unmap-exact", [new Map(Base, 64 * K, "anon"), new Unmap(Base, 64 * K), new Unmap(Base, 64 * K)]),
        ("unmap-superset-with-holes", [new Map(Base + 64 * K, 64 * K, "anon"), new Map(Base + 192 * K, 64 * K, "anon", 64 * K), new Unmap(Base, 512 * K)]),
        ("unmap-contained-then-straddling", [new Map(Base, 64 * K, "anon"), new Map(Base + 64 * K, 64 * K, "anon", 64 * K),
            new Unmap(Base, 68 * K), new Map(Base, 64 * K, "anon"), new Map(Base + 64 * K, 64 * K, "anon", 64 * K)]),
        ("unmap-length-zero", [new Unmap(Base, 0)]),
        ("unmap-wraps", [new Unmap(0x1000, ulong.MaxValue - 1)]),
        ("unmap-all-bit-pattern-not-at-zero", [new Unmap(1, ulong.MaxValue)]),
        ("unmap-all", [new Map(Base, 64 * K, "anon"), new Map(Base + 128 * K, 64 * K, "anon", 64 * K), new Unmap(0, ulong.MaxValue), new Unmap(0, ulong.MaxValue)]),
    ];

    public static int Count => Cases.Length;

    /// <summary>What the simulator should emulate for a kernel release: IOMMU_IOAS_MAP_FILE
    /// exists from 6.14 on (and VFIO dmabuf export later still); before, it is ENOTTY.</summary>
    public static KernelFlavor FlavorOf(string release)
    {
        var parts = release.Split('.', '-');
        int major = 0, minor = 0;
        bool parsed = parts.Length >= 2 && int.TryParse(parts[0], out major) && int.TryParse(parts[1], out minor);
        return parsed && (major, minor).CompareTo((6, 14)) >= 0 ? KernelFlavor.Dmabuf : KernelFlavor.NoDmabuf;
    }

    /// <summary>The geometry the simulator claims for this IOAS: the aperture at the domain's
    /// page size, minus the reserved window.</summary>
    public static IoasGeometry ExpectedGeometry(ulong alignment) =>
        new(alignment, [(Aperture.Start, MsiWindow.Start - 1), (MsiWindow.Last + 1, Aperture.Last)]);

    /// <summary>The host memory every case maps from: 1 MiB of RAM, a 64 KiB BAR mmap.</summary>
    public static HostMemory CreateMemory(KernelFlavor kernel)
    {
        var host = new HostMemory();
        host.Allocate(new MemoryRegion("anon", RegionKind.Ram, 1024 * K, RegionRole.GuestRam, null), kernel);
        host.Allocate(new MemoryRegion("bar", RegionKind.RamDevice, 64 * K, RegionRole.BarMmap, "conformance-dev"), kernel);
        return host;
    }

    /// <summary>Runs every case, each on a fresh backend from <paramref name="backend"/>
    /// (given the case's memory), and returns the recorded sessions.</summary>
    public static ImmutableArray<CassetteSession> Record(KernelFlavor kernel, Func<HostMemory, IIoas> backend, Func<IIoas, IoasGeometry> geometry)
    {
        var sessions = ImmutableArray.CreateBuilder<CassetteSession>();
        foreach (var (name, steps) in Cases)
        {
            var host = CreateMemory(kernel);
            var inner = backend(host);
            try
            {
                var recorder = new RecordingIoas(inner, geometry(inner));
                Run(recorder, host, steps);
                sessions.Add(recorder.Session(name));
            }
            finally { (inner as IDisposable)?.Dispose(); }
        }
        return sessions.ToImmutable();
    }

    static void Run(IIoas ioas, HostMemory host, Step[] steps)
    {
        var anon = host.Vmas[0].Va;
        var bar = host.Vmas[1].Va;
        foreach (var step in steps)
            switch (step)
            {
                case Map m:
                    ulong va = m.Memory switch { "anon" => anon, "bar" => bar, _ => UnmappedVa } + m.Offset;
                    ioas.Map(m.Iova, m.Length, va, m.Flags);
                    break;
                case MapFile f:
                    // A kernel without MAP_FILE has no dmabuf fds to offer; any fd shows the command is unknown.
                    int fd = host.Files.Keys.DefaultIfEmpty(0).First();
                    ioas.MapFile(f.Iova, f.Length, fd, 0, Rw);
                    break;
                case Unmap u:
                    ulong length = u.Length;
                    ioas.Unmap(u.Iova, ref length);
                    break;
            }
    }

    /// <summary>Runs the simulator through every recorded session (with the recording's
    /// geometry) and lists each place it answers differently: the geometry itself, an errno,
    /// an unmapped length. Empty means the simulator agrees with the kernel.</summary>
    public static IReadOnlyList<ConformanceDifference> Compare(Cassette recorded, KernelFlavor kernel)
    {
        var differences = new List<ConformanceDifference>();
        foreach (var (name, steps) in Cases)
        {
            var session = recorded.Sessions.FirstOrDefault(s => s.Subject == name);
            if (session is null) { differences.Add(new(name, "not in the recording")); continue; }
            var expected = ExpectedGeometry(session.Geometry.Alignment);
            if (!session.Geometry.Ranges.SequenceEqual(expected.Ranges))
                differences.Add(new(name, $"IOVA ranges: kernel [{Ranges(session.Geometry)}], simulator [{Ranges(expected)}]"));
            var host = CreateMemory(kernel);
            var sim = new RecordingIoas(new SimIoas(session.Geometry, host, kernel), session.Geometry);
            Run(sim, host, steps);
            CallByCall.Compare(name, session.Calls, sim.Calls, (a, b) => a.SameRequest(b), c => c.Request, Answer, differences);
        }
        return differences;
    }

    /// <summary>The one line both the lab and `vfio-fuzz conformance` print.</summary>
    public static string Summary(IReadOnlyList<ConformanceDifference> differences, string against) =>
        $"conformance: {Count - differences.Select(d => d.Case).Distinct().Count()}/{Count} agree with {against}";

    static string Ranges(IoasGeometry g) => string.Join(", ", g.Ranges.Select(r => $"0x{r.Start:x}-0x{r.Last:x}"));

    static string Answer(CassetteCall c) => c is UnmapCallRecord { Result: Errno.Ok } u ? $"Ok (0x{u.Unmapped:x} unmapped)" : c.Result.ToString();
}

/// <summary>A place where the simulator answered differently from the recorded kernel.</summary>
public sealed record ConformanceDifference(string Case, string Detail)
{
    public override string ToString() => $"{Case}: {Detail}";
}

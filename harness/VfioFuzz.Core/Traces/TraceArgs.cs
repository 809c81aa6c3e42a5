using System.Globalization;
using System.Text.RegularExpressions;

namespace VfioFuzz.Traces;

/// <summary>A trace event with its arguments read out (hw/vfio/trace-events, backends/trace-events).</summary>
public abstract record TraceEvent(int Line);

/// <summary>vfio_listener_region_add_ram: "region_add [ram] 0x%lx - 0x%lx [%p]".</summary>
public sealed record RegionAddRam(int Line, ulong Start, ulong Last, ulong Va) : TraceEvent(Line);
/// <summary>vfio_listener_region_skip ("SKIPPING %s 0x%lx - 0x%lx") and the older
/// vfio_listener_region_add_skip / _del_skip: a section that is not RAM.</summary>
public sealed record RegionSkip(int Line, bool Add, ulong Start, ulong Last) : TraceEvent(Line);
/// <summary>vfio_listener_region_add_no_dma_map: "Region \"%s\" 0x%lx size=0x%lx is not aligned to 0x%lx ...".</summary>
public sealed record RegionAddNoDmaMap(int Line, string Name, ulong Iova, ulong Size, ulong PageSize) : TraceEvent(Line);
/// <summary>vfio_listener_region_skip_dma_map (the skip patches): "Region \"%s\" iova=0x%lx size=0x%lx".</summary>
public sealed record RegionSkipDmaMap(int Line, string Name, ulong Iova, ulong Size) : TraceEvent(Line);
/// <summary>vfio_listener_region_del: "region_del 0x%lx - 0x%lx".</summary>
public sealed record RegionDel(int Line, ulong Start, ulong Last) : TraceEvent(Line);
/// <summary>vfio_region_mmap: "Region %s [0x%lx - 0x%lx]", or newer "\"%s\" [0x%lx - 0x%lx] maps to %p" (Va 0 when absent).</summary>
public sealed record RegionMmap(int Line, string Name, ulong Offset, ulong End, ulong Va) : TraceEvent(Line);
/// <summary>vfio_region_dmabuf: "Device %s, dmabuf fd %d region %d \"%s\", offset: 0x%lx, size: 0x%lx";
/// an earlier revision of the dmabuf series printed "Device %s, region \"%s\", offset: 0x%lx, size: 0x%lx" (Fd -1, Index -1).</summary>
public sealed record RegionDmabuf(int Line, string Device, int Fd, int Index, string Name, ulong Offset, ulong Size) : TraceEvent(Line);
/// <summary>vfio_iommu_map_notify: "iommu %s @ 0x%lx - 0x%lx".</summary>
public sealed record IommuMapNotify(int Line, string Op, ulong Start, ulong Last) : TraceEvent(Line);
/// <summary>iommufd_backend_map_dma: " iommufd=%d ioas=%d iova=0x%lx size=0x%lx addr=%p readonly=%d (%d)".</summary>
public sealed record BackendMap(int Line, int Ioas, ulong Iova, ulong Size, ulong Va, bool ReadOnly, int Ret) : TraceEvent(Line);
/// <summary>iommufd_backend_map_file_dma: " iommufd=%d ioas=%d iova=0x%lx size=0x%lx fd=%d start=%ld readonly=%d (%d)".</summary>
public sealed record BackendMapFile(int Line, int Ioas, ulong Iova, ulong Size, int Fd, ulong Start, bool ReadOnly, int Ret) : TraceEvent(Line);
/// <summary>iommufd_backend_unmap_dma (" iommufd=%d ioas=%d iova=0x%lx size=0x%lx (%d)") and
/// iommufd_backend_unmap_dma_non_exist (" Unmap nonexistent mapping: ..."), which QEMU counts as success.</summary>
public sealed record BackendUnmap(int Line, int Ioas, ulong Iova, ulong Size, int Ret, bool NonExist) : TraceEvent(Line);
/// <summary>iommufd_backend_alloc_ioas / get_ioas: " iommufd=%d ioas=%d".</summary>
public sealed record BackendIoas(int Line, int Ioas) : TraceEvent(Line);
/// <summary>iommufd_backend_free_id: " iommufd=%d id=%d (%d)": the IOAS going away is teardown.</summary>
public sealed record BackendFreeId(int Line, int Id) : TraceEvent(Line);
/// <summary>vfio_listener_region_add_iommu: "region_add [iommu] 0x%lx - 0x%lx" (a vIOMMU section, either container).</summary>
public sealed record RegionAddIommu(int Line, ulong Start, ulong Last) : TraceEvent(Line);
/// <summary>vfio_disconnect_container: "close container->fd=%d": the legacy type1 container's teardown.</summary>
public sealed record ContainerClosed(int Line) : TraceEvent(Line);
/// <summary>vfio_dma_unmap_overflow_workaround: the legacy container split an unmap that reached 2^64 (a kernel bug QEMU works around).</summary>
public sealed record UnmapOverflowWorkaround(int Line) : TraceEvent(Line);

/// <summary>vfio_fuzz_type1_map_dma: a VFIO_IOMMU_MAP_DMA the real-QEMU lab's LD_PRELOAD shim
/// (harness/lab/vfio-ioctl-log.c) logged, since QEMU 7.2 traces none: "iova=0x%llx size=0x%llx
/// vaddr=0x%llx flags=0x%x ret=%d errno=%d". This project's format, not QEMU's.</summary>
public sealed record Type1MapDma(int Line, ulong Iova, ulong Size, ulong Va, int Errno) : TraceEvent(Line);
/// <summary>vfio_fuzz_type1_unmap_dma, the shim's VFIO_IOMMU_UNMAP_DMA: "iova=0x%llx size=0x%llx
/// unmapped=0x%llx flags=0x%x ret=%d errno=%d" (size asked, bytes the kernel unmapped).</summary>
public sealed record Type1UnmapDma(int Line, ulong Iova, ulong Size, ulong Unmapped, int Errno) : TraceEvent(Line);

/// <summary>QEMU's `vfio_[container_]dma_map(...) = -E (text)`: a map the listener asked for and the container refused.</summary>
public sealed record DmaMapFailed(int Line, ulong Iova, ulong Size, ulong Va, int Errno, string Text) : TraceEvent(Line);
/// <summary>QEMU's `vfio_[container_]dma_unmap(...) = -E (text)`.</summary>
public sealed record DmaUnmapFailed(int Line, ulong Iova, ulong Size, int Errno, string Text) : TraceEvent(Line);
/// <summary>An ioctl's own failure line (`IOMMU_IOAS_MAP failed: text[, PCI BAR?]`,
/// `IOMMU_IOAS_UNMAP failed: text`, `VFIO_MAP_DMA failed: text`, `VFIO_UNMAP_DMA: -22`): no
/// addresses, only the call and its errno; the container's line with the addresses usually follows.</summary>
public sealed record IoctlFailed(int Line, string Ioctl, bool Map, int Errno, string Text, bool PciBarHint) : TraceEvent(Line);
/// <summary>`qemu: hardware error: ...`: QEMU aborted (hw_error).</summary>
public sealed record HardwareError(int Line, string Text) : TraceEvent(Line);
/// <summary>An event line whose arguments match none of its known formats (a QEMU version or a
/// patch revision we have not seen): the fields that could be recognised, read leniently.</summary>
public sealed record LenientEvent(int Line, string Name, IReadOnlyList<ulong> Hex, IReadOnlyList<string> Names, int? Fd) : TraceEvent(Line);

/// <summary>Reads each understood event's arguments (tolerant of spacing; numbers as QEMU prints them).</summary>
public static partial class TraceArgs
{
    const string Hex = @"0x[0-9a-fA-F]+";
    const string Ptr = @"(?:0x[0-9a-fA-F]+|\(nil\))";

    /// <summary>Every known format of each event, newest first (hw/vfio/trace-events,
    /// backends/trace-events, across QEMU versions and patch revisions), and the QEMU error
    /// lines QemuMessages recognises.</summary>
    static readonly Dictionary<string, Regex[]> Formats = new()
    {
        ["vfio_listener_region_add_ram"] = [R($@"^region_add \[ram\] (?<s>{Hex}) - (?<l>{Hex}) \[(?<va>{Ptr})\]$")],
        ["vfio_listener_region_add_iommu"] = [R($@"^region_add \[iommu\] (?<s>{Hex}) - (?<l>{Hex})$")],
        ["vfio_listener_region_skip"] = [R($@"^SKIPPING (?<op>region_add|region_del) (?<s>{Hex}) - (?<l>{Hex})$")],
        ["vfio_listener_region_add_skip"] = [R($@"^SKIPPING region_add (?<s>{Hex}) - (?<l>{Hex})$")],
        ["vfio_listener_region_del_skip"] = [R($@"^SKIPPING region_del (?<s>{Hex}) - (?<l>{Hex})$")],
        ["vfio_listener_region_add_no_dma_map"] = [R($@"^Region ""(?<name>[^""]*)"" (?<iova>{Hex}) size=(?<size>{Hex}) is not aligned to (?<page>{Hex}) and cannot be mapped for DMA$")],
        ["vfio_listener_region_skip_dma_map"] = [R($@"^Region ""(?<name>[^""]*)"" iova=(?<iova>{Hex}) size=(?<size>{Hex})$")],
        ["vfio_listener_region_del"] = [R($@"^region_del (?<s>{Hex}) - (?<l>{Hex})$")],
        ["vfio_region_mmap"] = [R($@"^(?:Region (?<name>.+?)|""(?<name>[^""]*)""|(?<name>.+?)) \[(?<o>{Hex}) - (?<e>{Hex})\](?: maps to (?<va>{Ptr}))?$")],
        ["vfio_region_dmabuf"] =
        [
            R($@"^Device (?<dev>[^,]+), dmabuf fd (?<fd>-?\d+) region (?<idx>\d+) ""(?<name>[^""]*)"", offset: (?<o>{Hex}), size: (?<size>{Hex})$"),
            R($@"^Device (?<dev>[^,]+), region ""(?<name>[^""]*)"", offset: (?<o>{Hex}), size: (?<size>{Hex})$"),
        ],
        ["vfio_iommu_map_notify"] = [R($@"^iommu (?<op>\S+) @ (?<s>{Hex}) - (?<l>{Hex})$")],
        ["vfio_disconnect_container"] = [R(@"^close container->fd=\d+$")],
        ["vfio_dma_unmap_overflow_workaround"] = [R(@"^$")],
        ["vfio_fuzz_type1_map_dma"] = [R($@"^iova=(?<iova>{Hex}) size=(?<size>{Hex}) vaddr=(?<va>{Hex}) flags=(?<flags>{Hex}) ret=(?<ret>-?\d+) errno=(?<errno>\d+)$")],
        ["vfio_fuzz_type1_unmap_dma"] = [R($@"^iova=(?<iova>{Hex}) size=(?<size>{Hex}) unmapped=(?<done>{Hex}) flags=(?<flags>{Hex}) ret=(?<ret>-?\d+) errno=(?<errno>\d+)$")],
        ["iommufd_backend_map_dma"] = [R($@"^iommufd=\d+ ioas=(?<ioas>\d+) iova=(?<iova>{Hex}) size=(?<size>{Hex}) addr=(?<va>{Ptr}) readonly=(?<ro>[01]) \((?<ret>-?\d+)\)$")],
        ["iommufd_backend_map_file_dma"] = [R($@"^iommufd=\d+ ioas=(?<ioas>\d+) iova=(?<iova>{Hex}) size=(?<size>{Hex}) fd=(?<fd>-?\d+) start=(?<start>\d+) readonly=(?<ro>[01]) \((?<ret>-?\d+)\)$")],
        ["iommufd_backend_unmap_dma"] = [R($@"^iommufd=\d+ ioas=(?<ioas>\d+) iova=(?<iova>{Hex}) size=(?<size>{Hex}) \((?<ret>-?\d+)\)$")],
        ["iommufd_backend_unmap_dma_non_exist"] = [R($@"^Unmap nonexistent mapping: iommufd=\d+ ioas=(?<ioas>\d+) iova=(?<iova>{Hex}) size=(?<size>{Hex}) \((?<ret>-?\d+)\)$")],
        ["iommufd_backend_alloc_ioas"] = [R(@"^iommufd=\d+ ioas=(?<ioas>\d+)(?: \(-?\d+\))?$")],
        ["iommufd_backend_get_ioas"] = [R(@"^iommufd=\d+ ioas=(?<ioas>\d+)(?: \(-?\d+\))?$")],
        ["iommufd_backend_free_id"] = [R(@"^iommufd=\d+ id=(?<id>\d+) \((?<ret>-?\d+)\)$")],
        [QemuMessages.DmaMap] = [R($@"^vfio(?:_container)?_dma_map\((?<c>{Ptr}), (?<iova>{Hex}), (?<size>{Hex}), (?<va>{Ptr})\) = (?<ret>-?\d+) \((?<text>[^)]*)\)$")],
        [QemuMessages.DmaUnmap] = [R($@"^vfio(?:_container)?_dma_unmap\((?<c>{Ptr}), (?<iova>{Hex}), (?<size>{Hex})\) = (?<ret>-?\d+) \((?<text>[^)]*)\)$")],
        [QemuMessages.IoasMap] = [R(@"^IOMMU_IOAS_MAP failed: (?<text>.+?)(?<bar>, PCI BAR\?)?$")],
        [QemuMessages.IoasUnmap] = [R(@"^IOMMU_IOAS_UNMAP failed: (?<text>.+)$")],
        [QemuMessages.Type1Map] = [R(@"^VFIO_MAP_DMA failed: (?<text>.+)$"), R(@"^VFIO_MAP_DMA: (?<ret>-\d+)$")],
        [QemuMessages.Type1Unmap] = [R(@"^VFIO_UNMAP_DMA failed: (?<text>.+)$"), R(@"^VFIO_UNMAP_DMA: (?<ret>-\d+)$")],
        [QemuMessages.HardwareError] = [R(@"^hardware error: (?<text>.+)$")],
    };

    static Regex R(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public static bool IsKnown(string name) => Formats.ContainsKey(name);

    public static IEnumerable<string> KnownEvents => Formats.Keys;

    public static bool Parses(string name, string args) => Match(name, args) is not null;

    static Match? Match(string name, string args)
    {
        if (!Formats.TryGetValue(name, out var formats)) return null;
        string text = Normalize(args);
        foreach (var r in formats)
            if (r.Match(text) is { Success: true } m) return m;
        return null;
    }

    /// <summary>The typed event; for a known event in no known format, the fields read leniently.</summary>
    public static TraceEvent? Read(TraceEventLine e)
    {
        if (!IsKnown(e.Name)) return null;
        if (Match(e.Name, e.Args) is not { } m) return Lenient(e);
        ulong X(string g) => m.Groups[g].Value is "(nil)" or "" ? 0 : ulong.Parse(m.Groups[g].Value.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        int I(string g) => m.Groups[g].Success ? int.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : -1;
        string S(string g) => m.Groups[g].Value;
        int Err() => m.Groups["ret"].Success ? -I("ret") : ErrnoText.Parse(S("text"));
        return e.Name switch
        {
            "vfio_listener_region_add_ram" => new RegionAddRam(e.Line, X("s"), X("l"), X("va")),
            "vfio_listener_region_add_iommu" => new RegionAddIommu(e.Line, X("s"), X("l")),
            "vfio_listener_region_skip" => new RegionSkip(e.Line, S("op") == "region_add", X("s"), X("l")),
            "vfio_listener_region_add_skip" => new RegionSkip(e.Line, true, X("s"), X("l")),
            "vfio_listener_region_del_skip" => new RegionSkip(e.Line, false, X("s"), X("l")),
            "vfio_listener_region_add_no_dma_map" => new RegionAddNoDmaMap(e.Line, S("name"), X("iova"), X("size"), X("page")),
            "vfio_listener_region_skip_dma_map" => new RegionSkipDmaMap(e.Line, S("name"), X("iova"), X("size")),
            "vfio_listener_region_del" => new RegionDel(e.Line, X("s"), X("l")),
            "vfio_fuzz_type1_map_dma" => new Type1MapDma(e.Line, X("iova"), X("size"), X("va"), I("errno")),
            "vfio_fuzz_type1_unmap_dma" => new Type1UnmapDma(e.Line, X("iova"), X("size"), X("done"), I("errno")),
            "vfio_region_mmap" => new RegionMmap(e.Line, S("name"), X("o"), X("e"), X("va")),
            "vfio_region_dmabuf" => new RegionDmabuf(e.Line, S("dev"), I("fd"), I("idx"), S("name"), X("o"), X("size")),
            "vfio_iommu_map_notify" => new IommuMapNotify(e.Line, S("op"), X("s"), X("l")),
            "vfio_disconnect_container" => new ContainerClosed(e.Line),
            "vfio_dma_unmap_overflow_workaround" => new UnmapOverflowWorkaround(e.Line),
            "iommufd_backend_map_dma" => new BackendMap(e.Line, I("ioas"), X("iova"), X("size"), X("va"), S("ro") == "1", I("ret")),
            "iommufd_backend_map_file_dma" => new BackendMapFile(e.Line, I("ioas"), X("iova"), X("size"), I("fd"), ulong.Parse(S("start"), CultureInfo.InvariantCulture), S("ro") == "1", I("ret")),
            "iommufd_backend_unmap_dma" => new BackendUnmap(e.Line, I("ioas"), X("iova"), X("size"), I("ret"), NonExist: false),
            "iommufd_backend_unmap_dma_non_exist" => new BackendUnmap(e.Line, I("ioas"), X("iova"), X("size"), I("ret"), NonExist: true),
            "iommufd_backend_alloc_ioas" or "iommufd_backend_get_ioas" => new BackendIoas(e.Line, I("ioas")),
            "iommufd_backend_free_id" => new BackendFreeId(e.Line, I("id")),
            QemuMessages.DmaMap => new DmaMapFailed(e.Line, X("iova"), X("size"), X("va"), Err(), S("text")),
            QemuMessages.DmaUnmap => new DmaUnmapFailed(e.Line, X("iova"), X("size"), Err(), S("text")),
            QemuMessages.IoasMap => new IoctlFailed(e.Line, "IOMMU_IOAS_MAP", true, Err(), S("text"), m.Groups["bar"].Success),
            QemuMessages.IoasUnmap => new IoctlFailed(e.Line, "IOMMU_IOAS_UNMAP", false, Err(), S("text"), false),
            QemuMessages.Type1Map => new IoctlFailed(e.Line, "VFIO_IOMMU_MAP_DMA", true, Err(), S("text"), false),
            QemuMessages.Type1Unmap => new IoctlFailed(e.Line, "VFIO_IOMMU_UNMAP_DMA", false, Err(), S("text"), false),
            QemuMessages.HardwareError => new HardwareError(e.Line, S("text")),
            _ => null,
        };
    }

    /// <summary>Hex numbers, quoted names and an fd= from arguments in an unknown format.</summary>
    static LenientEvent Lenient(TraceEventLine e) => new(e.Line, e.Name,
        LenientHex().Matches(e.Args).Select(x => ulong.Parse(x.Value.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray(),
        LenientName().Matches(e.Args).Select(x => x.Groups[1].Value).ToArray(),
        LenientFd().Match(e.Args) is { Success: true } fd ? int.Parse(fd.Groups[1].Value, CultureInfo.InvariantCulture) : null);

    [GeneratedRegex(@"0x[0-9a-fA-F]{1,16}\b")]
    private static partial Regex LenientHex();

    [GeneratedRegex(@"""([^""]*)""")]
    private static partial Regex LenientName();

    [GeneratedRegex(@"\bfd[ =](-?\d+)")]
    private static partial Regex LenientFd();

    /// <summary>QEMU's formats start some events with a space and mail clients double
    /// spaces; single spaces make the formats simple.</summary>
    static string Normalize(string args) => Spaces().Replace(args.Trim(), " ");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}

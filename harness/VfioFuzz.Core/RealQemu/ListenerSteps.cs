using System.Text.RegularExpressions;
using VfioFuzz.Traces;

namespace VfioFuzz.RealQemu;

/// <summary>One thing the listener saw or did, in a form both sides share: a section added or
/// deleted (RAM, skipped, or an IOMMU region; first and last address) or a container call
/// (map or unmap; IOVA and size) with, for a type1 call, the kernel's answer (errno, and for
/// an unmap the bytes it unmapped): the model runs over a simulated type1 container without a
/// domain, as the nested QEMU's mdev container is, so both kernels answer alike.</summary>
public sealed record StepEvent(string What, ulong A, ulong B, string? Answer = null)
{
    public bool IsContainerCall => What is "map" or "unmap";

    public override string ToString() => IsContainerCall
        ? $"{What} iova=0x{A:x} size=0x{B:x}{(Answer is null ? "" : " -> " + Answer)}"
        : $"{What} 0x{A:x} - 0x{B:x}";
}

/// <summary>
/// A session cut into steps: step 0 is boot (the nested machine's own init and the harness's
/// firmware writes; the model's registration), steps 1..n the program's ops, and what follows
/// the last op is teardown. The nested log is cut at the marker the lab reads between ops (a
/// config read of the host bridge's subsystem IDs, traced as pci_cfg_read); the model's trace
/// at its "# step N:" notes.
/// </summary>
public static partial class ListenerSteps
{
    [GeneratedRegex(@"pci_cfg_read mch 00:00\.0 @0x2c ->")]
    private static partial Regex Marker();

    public static IReadOnlyList<IReadOnlyList<StepEvent>> FromNestedLog(string path, string text) =>
        Split(path, text.Replace("\r", "").Split('\n'), static line => Marker().IsMatch(line));

    public static IReadOnlyList<IReadOnlyList<StepEvent>> FromModelTrace(IReadOnlyList<string> lines) =>
        Split("model trace", lines, static line => line.StartsWith("# step ", StringComparison.Ordinal));

    /// <summary>What a step leaves in place, whatever order it got there in: the sections the
    /// listener holds (added and not deleted since) and the mappings it holds (mapped and not
    /// unmapped), in address order.</summary>
    public static IReadOnlyList<StepEvent> FinalView(IEnumerable<StepEvent> events)
    {
        var held = new List<StepEvent>();
        foreach (var e in events)
        {
            switch (e.What)
            {
                case "region_add [ram]" or "region_add [iommu]" or "SKIPPING region_add":
                    held.Add(e);
                    break;
                case "map":
                    if (e.Answer is null or "ok") held.Add(e);   // a refused map holds nothing
                    break;
                case "region_del":
                    held.RemoveAll(h => h.What is "region_add [ram]" or "region_add [iommu]" && (h.A, h.B) == (e.A, e.B));
                    break;
                case "SKIPPING region_del":
                    held.RemoveAll(h => h.What == "SKIPPING region_add" && (h.A, h.B) == (e.A, e.B));
                    break;
                case "unmap":
                    // An unmap takes every mapping inside its range (type1 and iommufd alike).
                    if (e.Answer is null or "ok" || e.Answer.StartsWith("ok ", StringComparison.Ordinal))
                        held.RemoveAll(h => h.What == "map" && h.A >= e.A && (UInt128)h.A + h.B <= (UInt128)e.A + e.B);
                    break;
            }
        }
        return [.. held.OrderBy(h => h.IsContainerCall).ThenBy(h => h.A).ThenBy(h => h.What, StringComparer.Ordinal)];
    }

    static IReadOnlyList<IReadOnlyList<StepEvent>> Split(string path, IReadOnlyList<string> lines, Func<string, bool> isCut)
    {
        var steps = new List<IReadOnlyList<StepEvent>>();
        var current = new List<string>();
        foreach (var line in lines)
        {
            if (!isCut(line)) { current.Add(line); continue; }
            steps.Add(Events(path, current));
            current.Clear();
        }
        steps.Add(Events(path, current));
        return steps;
    }

    static IReadOnlyList<StepEvent> Events(string path, List<string> lines)
    {
        if (lines.Count == 0) return [];
        TraceReadResult read;
        try { read = TraceReader.Parse(path, string.Join('\n', lines)); }
        catch (TraceFormatException) { return []; }   // a step in which the listener saw nothing
        var events = new List<StepEvent>();
        foreach (var line in read.Events)
        {
            StepEvent? e = TraceArgs.Read(line) switch
            {
                RegionAddRam r => new("region_add [ram]", r.Start, r.Last),
                RegionAddIommu r => new("region_add [iommu]", r.Start, r.Last),
                RegionSkip s => new(s.Add ? "SKIPPING region_add" : "SKIPPING region_del", s.Start, s.Last),
                RegionDel d => new("region_del", d.Start, d.Last),
                BackendMap m => new("map", m.Iova, m.Size),
                BackendMapFile m => new("map", m.Iova, m.Size),
                BackendUnmap u => new("unmap", u.Iova, u.Size),
                Type1MapDma m => new("map", m.Iova, m.Size, Answer(m.Errno)),
                Type1UnmapDma u => new("unmap", u.Iova, u.Size, Answer(u.Errno) + $" unmapped=0x{u.Unmapped:x}"),
                _ => null,
            };
            if (e is not null) events.Add(e);
        }
        return events;
    }

    static string Answer(int errno) => errno == 0 ? "ok" : $"errno {errno}";
}

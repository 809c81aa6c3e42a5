using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// Holds the listener to symmetry: every unmap must answer a map the listener asked for (for
/// the same section), must not remove a mapping another section made, no section may map
/// over a range another section still holds, and nothing may be left in the IOAS once every
/// section is gone. QEMU swallows the first case (ENOENT counts as success), so only a
/// shadow of what was asked can see it.
/// </summary>
public sealed class AsymmetricUnmapOracle : Oracle
{
    /// <summary>A map the listener asked for, whatever the kernel answered: a listener that
    /// unmaps what it failed to map is still symmetric. It keeps the section, not its text:
    /// keys are formatted only when a finding is written.
    /// A request made for the vIOMMU (a MAP notification, or the replay inside an IOMMU
    /// section's region_add) is owned by the notifier path, and names the role of the memory
    /// its GPA translated to.
    /// A request made while populating virtio-mem blocks (the replay at an RDM section's
    /// region_add, or a plug) is owned by the RamDiscardManager path.</summary>
    sealed record Request(ulong Iova, ulong Length, Section? Section, bool Iotlb = false, RegionRole? Target = null, bool Rdm = false, bool Failed = false)
    {
        public RegionRole Role => Iotlb ? Target ?? RegionRole.Viommu : Section?.Mr.Role ?? RegionRole.GuestRam;

        public string SectionKey => Section?.Key ?? "(no section)";

        /// <summary>The same section as <paramref name="other"/> by its key's parts (region,
        /// address, size), without building the key.</summary>
        public bool SameSection(Section? other) =>
            Section is { } a && other is { } b ? ReferenceEquals(a.Mr, b.Mr) && a.Gpa == b.Gpa && a.Size == b.Size
                                               : Section is null && other is null;
    }

    readonly List<Request> _requests = [];
    int _failedRequests;

    // Guest IOTLB entries whose MAP reached the IOAS and an UNMAP already answered, with that
    // UNMAP's step: a second UNMAP of one is a double unmap, not a skipped MAP.
    readonly Dictionary<(ulong Iova, ulong Length), int> _iotlbUnmapped = [];
    readonly Dictionary<ulong, Request> _areaOwner = [];

    public override void OnMap(RunContext ctx, in MapCall call)
    {
        bool failed = call.Result != Errno.Ok;
        var request = IotlbGpa(ctx, call.Iova) is { } gpa
            ? new Request(call.Iova, call.Length, ctx.Section, Iotlb: true, ctx.World.SystemView.Find(gpa)?.Mr.Role, Failed: failed)
            : new Request(call.Iova, call.Length, ctx.Section, Rdm: RdmPath(ctx), Failed: failed);
        // A container that retries a failed map of the same range for the same section (NVIDIA's
        // MAP_FILE -> VA fallback, the legacy container's EBUSY retry) replaces that request.
        // (No request has failed in most runs: the walk is skipped then.)
        if (_failedRequests > 0)
            for (int i = _requests.Count - 1; i >= 0; i--)
            {
                var held = _requests[i];
                if (!held.Failed || held.Iova != call.Iova || held.Length != call.Length || held.Iotlb != request.Iotlb || !held.SameSection(ctx.Section)) continue;
                _requests.RemoveAt(i);
                _failedRequests--;
            }
        if (failed) _failedRequests++;
        foreach (var held in _requests)
        {
            if (!Overlaps(held, call.Iova, call.End)) continue;
            string sig = $"{FindingKinds.AsymmetricUnmap}:double-map:{request.Role.Name()}";
            if (!ctx.Seen(sig))
                ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
                    $"{request.SectionKey} mapped [0x{call.Iova:x}, 0x{call.End:x}) over {held.SectionKey}, which still holds it",
                    $"region_add of {request.SectionKey} asked IOMMU_IOAS_MAP for a range that {held.SectionKey} mapped and never unmapped; " +
                    $"the kernel answered {call.Result}. Two sections now claim one IOVA range, so whichever is deleted first takes the other's translation with it.",
                    call.Result == Errno.Ok ? "the second map succeeded" : $"the second map failed with {call.Result}: {request.SectionKey} has no translation"));
            break;
        }
        _requests.Add(request);
        if (request.Iotlb) _iotlbUnmapped.Remove((call.Iova, call.Length));
        if (call.Result == Errno.Ok) _areaOwner[call.Iova] = request;
    }

    /// <summary>For a map made on the vIOMMU's behalf (a MAP notification, or the replay inside
    /// an IOMMU section's region_add), the GPA it translates to; null for a section's map.</summary>
    static ulong? IotlbGpa(RunContext ctx, ulong iova)
    {
        if (ctx.Notification is { } e) return e.Gpa;
        if (ctx.Section is not { Mr.IsIommu: true }) return null;
        return ctx.World.Viommu.Lookup(iova) is { } entry ? entry.Gpa + (iova - entry.Iova) : ulong.MaxValue;
    }

    /// <summary>A map or unmap made for a RamDiscardManager: inside a populate/discard
    /// notification, or inside the region_add/del of its section (replay, final discard).</summary>
    static bool RdmPath(RunContext ctx) =>
        ctx.RamDiscard is not null || (ctx.Section is { } s && ctx.World.DiscardManagerOf(s.Mr) is not null);

    public override void OnUnmap(RunContext ctx, in UnmapCall call)
    {
        if (ctx.Section is { Mr.IsIommu: true } window) FlushIommuWindow(ctx, call, window);
        else if (RdmPath(ctx)) DiscardRdm(call);
        else if (ctx.Notification is { IsMap: false } e) IotlbUnmap(ctx, call, e);
        else SectionUnmap(ctx, call);
    }

    /// <summary>region_del of an IOMMU section unmaps the whole window in one call: that
    /// answers every mapping its notifier made (QEMU relies on it, §2's FIXME). Anything else
    /// it removes belonged to a section.</summary>
    void FlushIommuWindow(RunContext ctx, in UnmapCall call, Section window)
    {
        // An unmap of one entry the guest already unmapped, made while the window goes (a stale
        // list of entries walked at deletion): the same double unmap as a repeated UNMAP.
        if (_iotlbUnmapped.TryGetValue((call.Iova, call.Length), out int unmappedAt))
        {
            ReportDoubleUnmap(ctx, call, $"at the deletion of {window.Key} (the vIOMMU window)", ctx.Offers[call.Iova].Role, unmappedAt, null);
            return;
        }
        DropRequestsWithin(call, static r => r.Iotlb);
        var foreign = ReleaseAreas(call, static r => r.Iotlb);
        if (foreign is null) return;
        string sig = $"{FindingKinds.AsymmetricUnmap}:foreign-mapping:{foreign[0].Role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
            $"the unmap of {window.Key} (the vIOMMU window) removed a mapping of {foreign[0].SectionKey}",
            "Deleting an IOMMU section unmaps its whole window; a mapping a RAM or BAR section still owns inside that window goes with it.",
            Effect(call, foreign)));
    }

    /// <summary>A discard unmaps a range in one call however it was populated (block by block):
    /// it answers the populate maps inside it. Whether discarded blocks really left the IOAS, and
    /// populated ones are in it, is the ram-discard oracle's to check.</summary>
    void DiscardRdm(in UnmapCall call)
    {
        DropRequestsWithin(call, static r => r.Rdm);
        ReleaseAreas(call, static r => r.Rdm);
    }

    /// <summary>A one-call unmap of a range (a window flush, a discard) answers every request
    /// of its own path that starts inside it.</summary>
    void DropRequestsWithin(in UnmapCall call, Func<Request, bool> ownPath)
    {
        UInt128 end = call.Length == ulong.MaxValue && call.Iova == 0 ? (UInt128)ulong.MaxValue + 1 : (UInt128)call.Iova + call.Length;
        int kept = 0;
        for (int i = 0; i < _requests.Count; i++)
        {
            var r = _requests[i];
            if (ownPath(r) && r.Iova >= call.Iova && r.Iova < end) continue;
            _requests[kept++] = r;
        }
        _requests.RemoveRange(kept, _requests.Count - kept);
    }

    /// <summary>Forgets the owners of the areas the unmap removed; returns those not of the
    /// path that unmapped them (null when none).</summary>
    List<Request>? ReleaseAreas(in UnmapCall call, Func<Request, bool> ownPath)
    {
        List<Request>? foreign = null;
        for (int i = 0; i < call.Removed.Count; i++)
            if (_areaOwner.Remove(call.Removed[i].Iova, out var owner) && !ownPath(owner)) (foreign ??= []).Add(owner);
        return foreign;
    }

    /// <summary>A guest IOTLB UNMAP: by IOVA only. It must answer a MAP the notifier sent to
    /// the IOAS for the same range.</summary>
    void IotlbUnmap(RunContext ctx, in UnmapCall call, IotlbEvent e)
    {
        Request? match = null;
        foreach (var r in _requests)
            if (r.Iotlb && r.Iova == call.Iova && r.Length == call.Length) { match = r; break; }
        var foreign = ReleaseAreas(call, static r => r.Iotlb);
        var made = ctx.Offers[e.Iova];
        if (match is not null)
        {
            _requests.Remove(match);
            _iotlbUnmapped[(call.Iova, call.Length)] = ctx.Step;
        }
        // Unmatched but never mappable: upstream's own (logged) refusal, not an asymmetry.
        if ((match is not null || !made.Mappable) && foreign is null) return;
        var role = made.Role;
        UInt128 end = (UInt128)call.Iova + call.Length;
        if (foreign is null && _iotlbUnmapped.TryGetValue((call.Iova, call.Length), out int firstStep))
        {
            ReportDoubleUnmap(ctx, call, $"(GPA 0x{e.Gpa:x})", role, firstStep, foreign);
            return;
        }
        string sig = foreign is null
            ? $"{FindingKinds.AsymmetricUnmap}:iotlb-never-mapped:{role.Name()}"
            : $"{FindingKinds.AsymmetricUnmap}:foreign-mapping:{foreign![0].Role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(foreign is null
            ? new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
                $"a guest IOTLB UNMAP of [0x{call.Iova:x}, 0x{end:x}) reached the IOAS, but its MAP (to GPA 0x{e.Gpa:x}, {role.Name()}) never did",
                "vfio_iommu_map_notify did not map this IOVA when the guest mapped it (a skip on the MAP side), and the UNMAP carries no " +
                "region, so it cannot be skipped: IOMMU_IOAS_UNMAP of a range the listener never mapped. iommufd answers ENOENT, which " +
                "QEMU counts as success; if anything else occupies that IOVA by then, it is removed.",
                Effect(call, foreign))
            : new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
                $"a guest IOTLB UNMAP of [0x{call.Iova:x}, 0x{end:x}) removed a mapping of {foreign![0].SectionKey}",
                "The IOVA range of a vIOMMU mapping overlapped a mapping a section owns; the guest's unmap took it away.",
                Effect(call, foreign)));
    }

    static void ReportDoubleUnmap(RunContext ctx, in UnmapCall call, string where, RegionRole role, int firstStep, List<Request>? foreign)
    {
        string sig = $"{FindingKinds.AsymmetricUnmap}:iotlb-double-unmap:{role.Name()}";
        if (ctx.Seen(sig)) return;
        ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
            $"a guest IOTLB entry [0x{call.Iova:x}, 0x{(UInt128)call.Iova + call.Length:x}) {where} ({role.Name()}) was unmapped again: its MAP reached the IOAS " +
            $"and an UNMAP at step {(firstStep == 0 ? "boot" : firstStep.ToString())} already removed it",
            "The listener sent IOMMU_IOAS_UNMAP twice for one guest IOTLB entry (a repeated UNMAP, or an entry the guest had " +
            "unmapped unmapped again when the window went). iommufd answers the second with ENOENT, which QEMU counts as success; " +
            "if anything was mapped at that IOVA in between, the second unmap removed it.",
            Effect(call, foreign)));
    }

    void SectionUnmap(RunContext ctx, in UnmapCall call)
    {
        var section = ctx.Section;
        var match = Match(call, section);
        // Whose unmap this is: the running region_del's section, else (a deferred unmap) the
        // section of the request it answers.
        Section? culpritSection = section ?? match?.Section;
        string Culprit() => culpritSection?.Key ?? "(deferred unmap)";
        var role = culpritSection?.Mr.Role ?? RegionRole.GuestRam;

        List<Request>? foreign = null;
        for (int i = 0; i < call.Removed.Count; i++)
        {
            var area = call.Removed[i];
            // Foreign: owned by another section than the matched request's (or, unmatched,
            // the running region_del's; an unmatched deferred unmap owns nothing).
            if (_areaOwner.Remove(area.Iova, out var owner)
                && (match is not null ? !owner.SameSection(match.Section) : section is null || !owner.SameSection(section)))
                (foreign ??= []).Add(owner);
        }
        if (match is not null) _requests.Remove(match);

        UInt128 end = (UInt128)call.Iova + call.Length;
        if (match is null && SizeMismatch(call, end) is { } shape)
        {
            // What the kernel's DMA-API debug check holds drivers to: an unmap must cover
            // exactly what one map mapped, whatever the IOMMU layer accepts.
            string sig = $"{FindingKinds.AsymmetricUnmap}:size-mismatch:{role.Name()}";
            if (ctx.Seen(sig)) return;
            ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
                $"{Culprit()} unmapped [0x{call.Iova:x}, 0x{end:x}), which {shape}",
                "region_del must unmap exactly the range its region_add mapped (the same trim of the same section); an unmap " +
                "that splits a mapping, reaches past it or straddles two leaves part of a translation behind or takes part of " +
                "another. iommufd refuses to cut an area (ENOENT, which QEMU counts as success); type1 v2 refuses a bisecting unmap (EINVAL).",
                Effect(call, foreign)));
        }
        else if (match is null)
        {
            string sig = $"{FindingKinds.AsymmetricUnmap}:never-mapped:{role.Name()}";
            if (ctx.Seen(sig)) return;
            // A section live since boot points at the registration replay: an empty program's
            // reproducer still names the decision that caused it.
            string cause = section is { } s && ctx.SinceBoot(s)
                ? "; it was there from boot, and its region_add in the listener's registration replay asked for no map (the target chose not to map it)"
                : "";
            ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
                $"{Culprit()} unmapped [0x{call.Iova:x}, 0x{end:x}) that it never mapped{cause}",
                $"region_del of {Culprit()} issued IOMMU_IOAS_UNMAP for a range its region_add never asked to map " +
                "(a section skipped on add but not on del). QEMU's iommufd backend treats ENOENT as success, so nothing " +
                "in QEMU's log shows it; only `-trace iommufd_backend_unmap_dma_non_exist` does.",
                Effect(call, foreign)));
        }
        else if (foreign is not null)
        {
            string sig = $"{FindingKinds.AsymmetricUnmap}:foreign-mapping:{role.Name()}";
            if (ctx.Seen(sig)) return;
            ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
                $"{Culprit()} unmapped [0x{call.Iova:x}, 0x{end:x}) and removed a mapping of {foreign[0].SectionKey}",
                "An unmap for one section removed the IOVA translation another live section relies on; the device's next " +
                "DMA or ATS translation there faults.",
                Effect(call, foreign)));
        }
    }

    public override void AtTeardown(RunContext ctx)
    {
        var left = ctx.Ioas.AreasIn(0, (UInt128)ulong.MaxValue + 1);
        if (left.Count == 0) return;
        var owner = _areaOwner.GetValueOrDefault(left[0].Iova);
        string sig = $"{FindingKinds.AsymmetricUnmap}:leaked-mapping:{(owner?.Role ?? RegionRole.GuestRam).Name()}";
        ctx.Report(new Finding(FindingKinds.AsymmetricUnmap, sig, ctx.Step,
            $"{left.Count} mapping(s) left in the IOAS after every section was deleted, first [0x{left[0].Iova:x}, 0x{left[0].End:x}) of {owner?.SectionKey ?? "unknown"}",
            "memory_listener_unregister deletes every section; a mapping that survives it pins memory (or a BAR) for the life of the IOAS " +
            "and answers DMA to a range the guest no longer owns.",
            "leaked: the IOAS still translates memory no section covers"));
    }

    /// <summary>How an unmap that answers no request exactly overlaps the section maps still
    /// outstanding, or null when it overlaps none (then nothing of it was ever asked for).</summary>
    string? SizeMismatch(in UnmapCall call, UInt128 end)
    {
        Request? first = null;
        int count = 0;
        foreach (var r in _requests)
        {
            if (r.Iotlb || r.Rdm || !Overlaps(r, call.Iova, end)) continue;
            first ??= r;
            count++;
        }
        if (first is null) return null;
        UInt128 mappedEnd = (UInt128)first.Iova + first.Length;
        string mapped = $"the map of [0x{first.Iova:x}, 0x{mappedEnd:x}) for {first.SectionKey}";
        if (count > 1) return $"straddles {count} maps, the first {mapped}";
        if (call.Iova >= first.Iova && end <= mappedEnd) return $"is only part of {mapped} (a split or a truncated unmap)";
        return $"reaches past {mapped}";
    }

    /// <summary>The outstanding request this unmap answers: same range, and the same section
    /// when the unmap runs inside region_del (a deferred unmap has no section).</summary>
    Request? Match(in UnmapCall call, Section? section)
    {
        foreach (var r in _requests)
            if (!r.Iotlb && !r.Rdm && r.Iova == call.Iova && r.Length == call.Length && (section is null || r.SameSection(section)))
                return r;
        return null;
    }

    static string Effect(in UnmapCall call, List<Request>? foreign) => call.Removed.Count == 0 && foreign is not { Count: > 0 }
        ? $"harmless at that moment: nothing was mapped there, the kernel answered {call.Result} and QEMU counted it as success"
        : foreign is { Count: > 0 }
            ? $"destructive: it removed {foreign.Count} mapping(s) made for {string.Join(", ", foreign.Select(f => f.SectionKey).Distinct())}"
            : $"it removed {call.Removed.Count} mapping(s) with no owner the oracle knows";

    static bool Overlaps(Request r, ulong iova, UInt128 end) => r.Iova < end && iova < (UInt128)r.Iova + r.Length;
}

using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Type1;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// Upstream QEMU 11.0's vfio_memory_listener (hw/vfio/listener.c) for plain RAM and
/// ram_device sections over an iommufd container, modelled from the behaviour described in
/// shared/design/qemu-listener.md §1-§3 (no QEMU code). Method names follow the C functions.
/// Patch targets override the small hooks that mark where a patch changes a decision.
/// </summary>
public abstract class VfioListener : ListenerTarget
{
    VfioContainer? _container;
    bool _initialized;
    bool _ramDeviceWarned;
    string? _initError;

    /// <summary>bc->giommu_list: the notifiers this listener registered, per IOMMU section.</summary>
    readonly List<(MemoryRegion Mr, ulong Start, IommuNotifier Notifier)> _giommus = [];

    /// <summary>bc->vrdl_list: the RamDiscardListeners this listener registered, per section.</summary>
    readonly List<(MemoryRegion Mr, ulong Gpa, RamDiscardListener Listener)> _vrdls = [];

    protected VfioContainer Container => _container ?? throw new InvalidOperationException("listener not registered");

    HostPageGeometry Geometry => new(Env.HostPageSize, Container.Pgsizes);

    public override void Register(ListenerEnvironment env)
    {
        base.Register(env);
        _container = CreateContainer(env);
    }

    /// <summary>The container this target runs on: the legacy one over a type1 kernel
    /// container, else the iommufd one (<see cref="CreateIommufdContainer"/>).</summary>
    VfioContainer CreateContainer(ListenerEnvironment env) => env.Kernel switch
    {
        IType1Iommu type1 => CreateLegacyContainer(env, type1),
        _ => CreateIommufdContainer(env),
    };

    /// <summary>The iommufd container.c behaviour this target runs on; a tree that changes it overrides this.</summary>
    protected virtual IommufdContainer CreateIommufdContainer(ListenerEnvironment env) => new(env);

    /// <summary>The legacy (type1) container behaviour this target runs on.</summary>
    protected virtual LegacyContainer CreateLegacyContainer(ListenerEnvironment env, IType1Iommu type1) => new(env, type1);

    /// <summary>The function error_report names in the unaligned-section message (its __func__).</summary>
    protected virtual string UnalignedReporter(string caller) => "vfio_listener_valid_section";

    /// <summary>The trace event of a skipped section.</summary>
    protected virtual string SkipEvent(string caller) => "vfio_listener_region_skip";

    /// <summary>The container call the listener's error messages name.</summary>
    protected virtual string DmaMapName => "vfio_container_dma_map";
    protected virtual string DmaUnmapName => "vfio_container_dma_unmap";

    /// <summary>A failed map of device memory (ram_device) is tolerated: no mapping, ref kept.
    /// Upstream warns once (warn_report_err_once), naming the device.</summary>
    protected virtual void ReportRamDeviceMapFailure(in Section s, string err)
    {
        if (_ramDeviceWarned) return;
        Env.Trace.Stderr($"warning: {err}" + (s.Mr.Owner is not null ? $"\n{s.Mr.Owner}: PCI peer-to-peer transactions on BARs are not supported." : ""));
        _ramDeviceWarned = true;
    }

    public override void Initialized()
    {
        // vfio_listener_register fails when the initial replay stored an error.
        if (_initError is not null)
            throw new QemuAbortException($"memory listener initialization failed: {_initError}");
        _initialized = true;
    }

    /// <summary>vfio_listener_valid_section: the checks shared by add and del.</summary>
    protected bool ValidSection(in Section s, string caller)
    {
        if ((!s.Mr.IsRam && !s.Mr.IsIommu) || (s.Gpa >> 63) != 0)
        {
            if (Env.Trace.Enabled)
                Env.Trace.Emit(SkipEvent(caller), $"SKIPPING {caller} 0x{s.Gpa:x} - 0x{s.End - 1:x}");
            return false;
        }
        if (!Geometry.PhaseMatches(s))
        {
            // error_report's "%s" is __func__: the helper's own name where a helper checks.
            Env.Trace.Stderr($"{UnalignedReporter(caller)} received unaligned region {s.Mr.Name} iova=0x{s.Gpa:x} " +
                             $"offset_within_region=0x{s.OffsetInRegion:x} qemu_real_host_page_size=0x{Env.HostPageSize:x}");
            return false;
        }
        return true;
    }

    /// <summary>vfio_get_section_iova_range.</summary>
    protected bool GetSectionIovaRange(in Section s, out ulong iova, out UInt128 llsize) =>
        Geometry.TryIovaRange(s, out iova, out llsize);

    public override void RegionAdd(in Section s)
    {
        if (!ValidSection(s, "region_add")) return;
        if (!GetSectionIovaRange(s, out ulong iova, out var llsize))
        {
            if (s.Mr.IsRamDevice) TraceNoDmaMap(s, Env.HostPageSize);
            return;
        }
        RefSection(s);   // D: held whatever happens next (IOMMU, misaligned ram_device, skip, failure)
        if (s.Mr.IsIommu)
        {
            RegisterGuestIommu(s);
            return;
        }
        if (Env.DiscardManagerOf?.Invoke(s.Mr) is { } rdm)
        {
            RegisterRamDiscardListener(s, rdm);
            return;
        }
        var backing = Env.Host[s.Mr];
        ulong vaddr = backing.Va + s.OffsetInRegion + (iova - s.Gpa);
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_listener_region_add_ram", $"region_add [ram] 0x{iova:x} - 0x{(UInt128)iova + llsize - 1:x} [0x{vaddr:x}]");
        if (s.Mr.IsRamDevice && !Geometry.IommuAligned(iova, llsize))
        {
            TraceNoDmaMap(s, Container.Pgsizes);
            return;
        }
        if (SkipDmaMap(s, iova, llsize)) return;

        int ret = Container.DmaMap(iova, (ulong)llsize, s.Mr, vaddr, s.ReadOnly);
        if (ret == 0) return;
        string err = $"{DmaMapName}(0x0, 0x{iova:x}, 0x{(ulong)llsize:x}, 0x{vaddr:x}) = {ret} ({(Errno)(-ret)})";
        if (s.Mr.IsRamDevice)
        {
            ReportRamDeviceMapFailure(s, err);
            return;
        }
        Fail($"Region {s.Mr.Name}: {err}");
    }

    public override void RegionDel(in Section s)
    {
        if (!ValidSection(s, "region_del")) return;
        if (s.Mr.IsIommu) UnregisterGuestIommu(s);
        if (!GetSectionIovaRange(s, out ulong iova, out var llsize)) return;
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_listener_region_del", $"region_del 0x{iova:x} - 0x{(UInt128)iova + llsize - 1:x}");
        bool tryUnmap = true;
        if (s.Mr.IsRamDevice)
            tryUnmap = TryUnmapRamDevice(iova, llsize);
        else if (Env.DiscardManagerOf?.Invoke(s.Mr) is { } rdm)
        {
            UnregisterRamDiscardListener(s, rdm);   // its discard unmaps what was populated
            tryUnmap = false;
        }
        if (tryUnmap && !SkipDmaUnmap(s)) DmaUnmap(s, iova, llsize);
        Env.Refs?.Unref(s.Mr);
    }

    /// <summary>memory_region_ref at D of region_add (the sPAPR window path is where upstream
    /// returns before it, §1.7).</summary>
    protected virtual void RefSection(in Section s) => Env.Refs?.Ref(s.Mr);

    /// <summary>vfio_ram_discard_register_listener (§1.4): a listener for the section with the
    /// manager's block size as granularity; registration replays the populated blocks.</summary>
    void RegisterRamDiscardListener(in Section s, VirtioMem rdm)
    {
        var section = s;
        var listener = new RamDiscardListener(s.OffsetInRegion, (ulong)s.Size,
            (offset, size) => NotifyPopulate(section, offset, size),
            (offset, size) => NotifyDiscard(section, offset, size));
        _vrdls.Add((s.Mr, s.Gpa, listener));
        rdm.Register(listener);
    }

    /// <summary>vfio_ram_discard_unregister_listener: hw_error when none matches.</summary>
    void UnregisterRamDiscardListener(in Section s, VirtioMem rdm)
    {
        var (mr, gpa) = (s.Mr, s.Gpa);
        int i = _vrdls.FindIndex(v => ReferenceEquals(v.Mr, mr) && v.Gpa == gpa);
        if (i < 0) throw new QemuAbortException("Trying to unregister missing RAM discard listener");
        var listener = _vrdls[i].Listener;
        _vrdls.RemoveAt(i);
        rdm.Unregister(listener);
    }

    /// <summary>vfio_ram_discard_notify_populate: one map per granularity chunk, chunks ending
    /// at granularity boundaries (a range that starts or ends inside a block maps that part);
    /// on the first failure a single unmap of the whole notified range, and the error goes back
    /// to the manager (which refuses the plug).</summary>
    protected virtual int NotifyPopulate(Section s, ulong offset, ulong size)
    {
        ulong granularity = VirtioMem.BlockSize;
        for (ulong start = offset, next; start < offset + size; start = next)
        {
            next = Math.Min((start / granularity + 1) * granularity, offset + size);
            ulong iova = s.Gpa + (start - s.OffsetInRegion);
            int ret = Container.DmaMap(iova, next - start, s.Mr, Env.Host[s.Mr].Va + start, s.ReadOnly);
            if (ret == 0) continue;
            Container.DmaUnmap(s.Gpa + (offset - s.OffsetInRegion), size);
            return ret;
        }
        return 0;
    }

    /// <summary>vfio_ram_discard_notify_discard: one unmap of the notified range; errors only reported.</summary>
    protected virtual void NotifyDiscard(Section s, ulong offset, ulong size)
    {
        UnmapReportingErrors(s.Gpa + (offset - s.OffsetInRegion), size, translatedAddr: null);
    }

    /// <summary>The is_iommu branch of region_add: a notifier for the section's range (not
    /// host-page trimmed), then a replay of what the vIOMMU already maps. No DMA is mapped
    /// directly: mappings come only through notifications. A vIOMMU that refuses the
    /// notifier sends region_add to its fail: label.</summary>
    void RegisterGuestIommu(in Section s)
    {
        var viommu = Env.Viommu ?? throw new InvalidOperationException("an IOMMU section but no vIOMMU in the listener environment");
        ulong offset = s.Gpa - s.OffsetInRegion;   // iommu_offset: notifier IOVA -> container IOVA
        var notifier = viommu.Register(s.OffsetInRegion, (ulong)((UInt128)s.OffsetInRegion + s.Size - 1), e => IommuMapNotify(e, offset), out string? error);
        if (notifier is null)
        {
            IommuNotifierRefused(s, error!);
            return;
        }
        _giommus.Add((s.Mr, s.OffsetInRegion, notifier));
        viommu.Replay(notifier);
    }

    /// <summary>memory_region_register_iommu_notifier failed: the giommu is freed (the ref from
    /// D is kept) and region_add goes to its fail: label.</summary>
    protected virtual void IommuNotifierRefused(in Section s, string error) => Fail($"Region {s.Mr.Name}: {error}");

    /// <summary>region_del of an IOMMU section: the first giommu of that region and start is
    /// unregistered; the whole window is then unmapped with one call (below).</summary>
    protected virtual void UnregisterGuestIommu(in Section s)
    {
        var (mr, start) = (s.Mr, s.OffsetInRegion);
        int i = _giommus.FindIndex(g => ReferenceEquals(g.Mr, mr) && g.Start == start);
        if (i < 0) return;
        Env.Viommu!.Unregister(_giommus[i].Notifier);
        _giommus.RemoveAt(i);
    }

    /// <summary>vfio_iommu_map_notify (§5): MAP translates the GPA through address_space_memory
    /// and maps it with no alignment or skip test, every failure only reported; UNMAP is by
    /// IOVA alone.</summary>
    void IommuMapNotify(in IotlbEvent e, ulong offset)
    {
        ulong iova = e.Iova + offset;
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_iommu_map_notify", $"iommu {(e.IsMap ? "MAP" : "UNMAP")} @ 0x{iova:x} - 0x{(UInt128)iova + e.Size - 1:x}");
        if (!e.IsMap)
        {
            NotifyUnmap(iova, e.Size, e.Gpa);
            return;
        }
        if (Env.ResolveGpa?.Invoke(e.Gpa) is not { } target || !target.Mr.IsRam)
        {
            Env.Trace.Stderr($"iommu map to non memory area {e.Gpa:x}");
            return;
        }
        if ((UInt128)e.Gpa + e.Size > target.End)
        {
            Env.Trace.Stderr("iommu has granularity incompatible with target AS");
            return;
        }
        // The translation refuses memory a RamDiscardManager has discarded (an unplugged
        // virtio-mem block): the MAP is reported and nothing is mapped.
        if (Env.DiscardManagerOf?.Invoke(target.Mr) is { } rdm && !rdm.IsPopulatedRange(target.OffsetInRegion + (e.Gpa - target.Gpa), e.Size))
        {
            Env.Trace.Stderr($"iommu map to discarded memory (e.g., unplugged via virtio-mem): {e.Gpa:x}");
            return;
        }
        if (SkipNotifyMap(target, iova, e.Size)) return;
        ulong vaddr = Env.Host[target.Mr].Va + target.OffsetInRegion + (e.Gpa - target.Gpa);
        // memory_translate_iotlb: read-only when the IOTLB permission lacks write or the
        // terminal region itself is read-only (a ROM); a read-only attribute of the placement
        // (a chipset flip through an alias) is not consulted on this path.
        int ret = Container.DmaMap(iova, e.Size, target.Mr, vaddr, !e.Writable || target.Mr.ReadOnly);
        if (ret != 0)
            Env.Trace.Stderr($"{DmaMapName}(0x0, 0x{iova:x}, 0x{e.Size:x}, 0x{vaddr:x}) = {ret} ({(Errno)(-ret)})");
    }

    /// <summary>vfio_iommu_map_notify's UNMAP: one unmap of the notification's own entry, by IOVA
    /// (its IOTLB entry lets the backend read the dirty bits first); a patch may change it.
    /// The model's entry carries the translation the guest had programmed; what QEMU's vIOMMUs
    /// put in an UNMAP entry's translated_addr is not modelled, so where those dirty bits land
    /// is not judged.</summary>
    protected virtual void NotifyUnmap(ulong iova, ulong size, ulong gpa) => UnmapReportingErrors(iova, size, translatedAddr: gpa);

    /// <summary>vfio_iommu_map_notify after the translation: upstream maps whatever it
    /// translated to (ram_device included); a patch may skip here.</summary>
    protected virtual bool SkipNotifyMap(in Section target, ulong iova, ulong size) => false;

    /// <summary>The call at the end of region_del; errors are only reported.</summary>
    protected virtual void DmaUnmap(in Section s, ulong iova, UInt128 llsize) =>
        UnmapReportingErrors(iova, llsize, SyncsDirtyOnDel(s) ? DirtyEntryTranslatedAddr(s, iova) : null);

    /// <summary>vfio_container_dma_unmap where its error is only reported (every unmap path of
    /// the listener: region_del, a discard, a vIOMMU UNMAP).</summary>
    void UnmapReportingErrors(ulong iova, UInt128 size, ulong? translatedAddr)
    {
        int ret = Container.DmaUnmap(iova, size, translatedAddr);
        if (ret != 0)
            Env.Trace.Stderr($"{DmaUnmapName}(0x0, 0x{iova:x}, 0x{size:x}) = {ret} ({(Errno)(-ret)})");
    }

    /// <summary>11.0+: while global dirty tracking is on, region_del of a writable RAM section
    /// passes an identity IOTLB entry so the backend reads the dirty bits before the unmap.</summary>
    protected virtual bool SyncsDirtyOnDel(in Section s) => Container.DirtyTrackingStarted && s.Mr.IsRam && !s.ReadOnly;

    /// <summary>The translated_addr of region_del's fake IOTLB entry. Upstream's is the IOVA
    /// itself ("an IOTLB entry for identity mapping": entry.translated_addr = iova), which the
    /// backend then uses as the ram_addr to mark dirty: right only where the section's GPA
    /// equals its ram_addr.</summary>
    protected virtual ulong DirtyEntryTranslatedAddr(in Section s, ulong iova) => iova;

    public override void LogGlobal(bool started) => Container.DirtyTrackingStarted = started;

    /// <summary>region_add, after the ram_device alignment test and before dma_map: where
    /// the skip patches decide. Upstream 11.0 maps everything that got this far.</summary>
    protected virtual bool SkipDmaMap(in Section s, ulong iova, UInt128 llsize) => false;

    /// <summary>region_del of a ram_device: upstream's exact mirror of region_add's minimum-page
    /// test (it cannot know whether the map succeeded, failed, or was skipped).</summary>
    protected virtual bool TryUnmapRamDevice(ulong iova, UInt128 llsize) => Geometry.IommuAligned(iova, llsize);

    /// <summary>region_del, before dma_unmap. Upstream unmaps whatever passed the alignment test.</summary>
    protected virtual bool SkipDmaUnmap(in Section s) => false;

    protected void TraceNoDmaMap(in Section s, ulong pageSize)
    {
        if (Env.Trace.Enabled)
            Env.Trace.Emit("vfio_listener_region_add_no_dma_map",
                $"Region \"{s.Mr.Name}\" 0x{s.Gpa:x} size=0x{s.Size:x} is not aligned to 0x{pageSize:x} and cannot be mapped for DMA");
    }

    /// <summary>The fail: label: before initialization keep the first error; after it,
    /// hw_error aborts QEMU.</summary>
    void Fail(string error)
    {
        if (!_initialized)
        {
            _initError ??= error;
            return;
        }
        Env.Trace.Stderr(error);
        throw new QemuAbortException("vfio: DMA mapping failed, unable to continue");
    }
}

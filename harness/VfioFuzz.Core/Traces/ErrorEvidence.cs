namespace VfioFuzz.Traces;

/// <summary>
/// Findings from QEMU's own DMA error lines, read as backend calls with their errno (the
/// evidence in logs without backend trace events, and the only DMA evidence a legacy type1
/// container logs). An ioctl's failure line (`IOMMU_IOAS_UNMAP failed: ...`) and the
/// container's line with the addresses just after it are one call, cited together:
/// <list type="bullet">
/// <item>an unmap answered ENOENT: `asymmetric-unmap:never-mapped` (with the line where
///   region_add added or skipped that range, when the excerpt has it);</item>
/// <item>a map answered EEXIST or EADDRINUSE: `asymmetric-unmap:double-map` (with the line that
///   made the range live, or saying it is outside the excerpt);</item>
/// <item>a map of a BAR (the `PCI BAR?` hint, or a VA inside a vfio_region_mmap) answered
///   EFAULT: `missing-stage2:bar-never-mapped`;</item>
/// <item>an unmap whose range reaches 2^64 answered EINVAL (the type1 kernel bug QEMU works
///   around) and any other errno: `unexpected-errno:map|unmap:E`;</item>
/// <item>`hardware error: ...`: `crash:qemu-abort`, QEMU is gone.</item>
/// </list>
/// </summary>
static class ErrorEvidence
{
    public static IEnumerable<RecordingFinding> Find(IReadOnlyList<TraceEvent> events, Func<ulong, (int Line, string How)?> addedAt,
        Func<ulong, ulong, int?> liveAt)
    {
        var mmaps = events.OfType<RegionMmap>().Where(m => m.Va != 0).ToArray();
        // First pair each container line with the ioctl's own line beside it.
        var paired = new HashSet<int>();
        var ioctlOf = new Dictionary<int, IoctlFailed>();
        for (int i = 0; i < events.Count; i++)
        {
            var (call, map, errno) = events[i] switch
            {
                DmaMapFailed m => (true, true, m.Errno),
                DmaUnmapFailed u => (true, false, u.Errno),
                _ => (false, false, 0),
            };
            if (call && Ioctl(i, map, errno) is { } f) ioctlOf[i] = f;
        }
        for (int i = 0; i < events.Count; i++)
        {
            switch (events[i])
            {
                case DmaUnmapFailed u:
                    yield return Unmap(u.Line, u.Iova, u.Size, u.Errno, u.Text, ioctlOf.GetValueOrDefault(i));
                    break;
                case DmaMapFailed m:
                    var ioctl = ioctlOf.GetValueOrDefault(i);
                    bool bar = ioctl?.PciBarHint == true || mmaps.Any(x => m.Va >= x.Va && m.Va < x.Va + (x.End - x.Offset + 1));
                    yield return Map(m.Line, $"0x{m.Iova:x}+0x{m.Size:x}", m.Iova, m.Size, m.Errno, m.Text, bar, ioctl);
                    break;
                case IoctlFailed f when !paired.Contains(f.Line):
                    yield return f.Map
                        ? Map(f.Line, "a range not in the excerpt", null, 0, f.Errno, f.Text, f.PciBarHint, null)
                        : Unmap(f.Line, null, 0, f.Errno, f.Text, null);
                    break;
                case HardwareError h:
                    yield return new RecordingFinding("crash:qemu-abort", $"line {h.Line}: QEMU aborted: hardware error: {h.Text}", [h.Line]);
                    break;
            }
        }

        // The ioctl's own failure line beside the container's (QEMU prints it first), same call and errno.
        IoctlFailed? Ioctl(int at, bool map, int errno)
        {
            foreach (int j in new[] { at - 1, at + 1 })
                if (j >= 0 && j < events.Count && events[j] is IoctlFailed f && f.Map == map && (f.Errno == errno || f.Errno == 0 || errno == 0) && paired.Add(f.Line))
                    return f;
            return null;
        }

        RecordingFinding Unmap(int line, ulong? iova, ulong size, int errno, string text, IoctlFailed? ioctl)
        {
            var lines = new List<int>();
            string where = iova is { } v ? $"0x{v:x}+0x{size:x}" : "a range not in the excerpt";
            string added = "";
            if (iova is { } start && addedAt(start) is { } at)
            {
                lines.Add(at.Line);
                added = $" ({at.How} at line {at.Line})";
            }
            if (ioctl is not null) lines.Add(ioctl.Line);
            lines.Add(line);
            string said = $"QEMU logged {(ioctl is null ? "" : $"\"{ioctl.Ioctl} failed\" and ")}errno {ErrnoText.Name(errno)} ({text})";
            if (errno == 2)
                return new RecordingFinding("asymmetric-unmap:never-mapped", $"line {line}: unmap of {where} that was never mapped{added}; {said}", lines);
            bool reaches = iova is { } s && (UInt128)s + size == (UInt128)ulong.MaxValue + 1;
            return new RecordingFinding($"unexpected-errno:unmap:{ErrnoText.Name(errno)}",
                $"line {line}: unmap of {where} failed{added}; {said}" + (reaches && errno == 22
                    ? "; the range reaches 2^64, which type1 kernels refuse (QEMU splits such unmaps: vfio_dma_unmap_overflow_workaround)"
                    : ""), lines);
        }

        RecordingFinding Map(int line, string where, ulong? iova, ulong size, int errno, string text, bool bar, IoctlFailed? ioctl)
        {
            var lines = new List<int>();
            if (ioctl is not null) lines.Add(ioctl.Line);
            lines.Add(line);
            string said = $"QEMU logged {(ioctl is null ? "" : $"\"{ioctl.Ioctl} failed\" and ")}errno {ErrnoText.Name(errno)} ({text})";
            if (errno is 17 or 98)
            {
                int? live = iova is { } s ? liveAt(s, size) : null;
                if (live is { } l) lines.Insert(0, l);
                return new RecordingFinding("asymmetric-unmap:double-map",
                    $"line {line}: map of {where} over a range still mapped ({(live is { } at ? $"made live at line {at}" : "the live mapping is outside the excerpt")}); {said}", lines);
            }
            if (errno == 14 && bar)
                return new RecordingFinding("missing-stage2:bar-never-mapped",
                    $"line {line}: the DMA map of a BAR ({where}) failed, so the device's BAR is not in Stage-2; {said}", lines);
            return new RecordingFinding($"unexpected-errno:map:{ErrnoText.Name(errno)}", $"line {line}: map of {where} failed; {said}", lines);
        }
    }
}

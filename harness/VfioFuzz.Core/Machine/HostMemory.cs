using VfioFuzz.Memory;

namespace VfioFuzz.Machine;

/// <summary>How the QEMU process backs one region: its mmap address, the fd of its RAMBlock
/// (-1 when none) with the offset vfio_container_dma_map passes to MAP_FILE, and the RAMBlock's
/// ram_addr (its offset in QEMU's ram_addr space, where its dirty bits live).</summary>
public readonly record struct HostBacking(ulong Va, int Fd, ulong FdOffset, bool PfnMap, ulong RamAddr);

/// <summary>
/// The QEMU process's side of guest memory: where each RAM/ram_device region is mmapped and
/// whether its RAMBlock carries an fd. Since 11.0, vfio_region_mmap asks the kernel for a
/// dmabuf per BAR and stores it in the mmaps' RAMBlocks; a kernel without the feature answers
/// ENOTTY and the BAR keeps the VA path (a VM_PFNMAP mmap). Guest RAM from a file-backed
/// memory backend (memory-backend-memfd, -file on hugetlbfs) has its file's fd in its RAMBlock
/// too. The simulated kernel resolves user addresses and fds against this.
/// </summary>
public sealed class HostMemory
{
    readonly Dictionary<MemoryRegion, HostBacking> _backing = new(ReferenceEqualityComparer.Instance);
    readonly List<(ulong Va, ulong End, bool PfnMap)> _vmas = [];
    readonly Dictionary<int, ulong> _fileSize = [];
    ulong _nextVa = 0x7f00_0000_0000UL;
    // RAMBlocks get ram_addrs in the order they are allocated, packed: the first (the
    // machine's RAM, created before the board) at 0, as QEMU's find_ram_offset gives it. Where
    // QEMU puts later blocks (the first gap that fits) is this model's layout, not QEMU's.
    ulong _nextRamAddr;
    int _nextFd = 20;

    public HostBacking this[MemoryRegion mr] => _backing[mr];

    /// <summary>The process's VMAs as the harness laid them out (what a real backend backs
    /// with real mappings).</summary>
    public IReadOnlyList<(ulong Va, ulong End, bool PfnMap)> Vmas => _vmas;

    /// <summary>The fds this process holds behind RAMBlocks (BAR dmabufs, guest RAM memfds) and
    /// their sizes.</summary>
    public IReadOnlyDictionary<int, ulong> Files => _fileSize;

    /// <summary>Lays out a region: its VA, and an fd when its RAMBlock has one (a BAR's dmabuf
    /// on a kernel that exports them; guest RAM when <paramref name="memfd"/>).</summary>
    public void Allocate(MemoryRegion mr, KernelFlavor kernel, bool memfd = false)
    {
        if (!mr.IsRam) return;
        ulong size = (ulong)mr.Size;   // RAM is never 2^64 bytes (only an IOMMU region is)
        // BAR mmaps are aligned to min(pow2(size), 1 GiB), like vfio_region_mmap does upstream.
        ulong align = Math.Min(System.Numerics.BitOperations.RoundUpToPowerOf2(size), 1UL << 30);
        ulong va = (_nextVa + align - 1) & ~(align - 1);
        _nextVa = va + size;
        int fd = -1;
        if ((mr.IsPfnMap && kernel == KernelFlavor.Dmabuf) || (memfd && mr.Kind == RegionKind.Ram))
        {
            fd = _nextFd++;
            _fileSize[fd] = size;
        }
        _backing[mr] = new HostBacking(va, fd, 0, mr.IsPfnMap, NextRamAddr(size));
        _vmas.Add((va, va + size, mr.IsPfnMap));
    }

    /// <summary>Registers a region at an address a recording gave (an imported QEMU trace):
    /// its VA, and the dmabuf fd and offset when it has one.</summary>
    public void Adopt(MemoryRegion mr, ulong va, int fd = -1, ulong fdOffset = 0)
    {
        ulong size = (ulong)mr.Size;   // a recording's regions are RAM
        _backing[mr] = new HostBacking(va, fd, fdOffset, mr.IsPfnMap, NextRamAddr(size));
        _vmas.Add((va, va + size, mr.IsPfnMap));
        if (fd >= 0) _fileSize[fd] = Math.Max(_fileSize.GetValueOrDefault(fd), fdOffset + size);
    }

    /// <summary>The ram_addr of the page at <paramref name="gpa"/> of a section: where QEMU keeps
    /// its dirty bit (the section's RAMBlock offset plus the offset within it).</summary>
    public ulong RamAddr(in Section s, ulong gpa) => _backing[s.Mr].RamAddr + s.OffsetInRegion + (gpa - s.Gpa);

    ulong NextRamAddr(ulong size)
    {
        ulong at = _nextRamAddr;
        _nextRamAddr += size;
        return at;
    }

    /// <summary>What pin_user_pages would find over [va, va+length): false when any byte is
    /// unmapped; pfnMap when any VMA is VM_PFNMAP/VM_IO.</summary>
    public bool TryResolve(ulong va, ulong length, out bool pfnMap)
    {
        pfnMap = false;
        ulong cursor = va;
        UInt128 end = (UInt128)va + length;
        foreach (var (s, e, pfn) in _vmas)
        {
            if (cursor >= s && cursor < e)
            {
                pfnMap |= pfn;
                cursor = e;
                if (cursor >= end) return true;
            }
        }
        return false;
    }

    /// <summary>Whether fd is a file this process holds (a dmabuf or a memfd) that spans [start, start+length).</summary>
    public bool IsFileRange(int fd, ulong start, ulong length) =>
        _fileSize.TryGetValue(fd, out var size) && start <= size && length <= size - start;
}

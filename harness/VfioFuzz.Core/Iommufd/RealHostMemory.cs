using System.Text;
using Tmds.Linux;
using VfioFuzz.Machine;

namespace VfioFuzz.Iommufd;

/// <summary>
/// Real memory behind the harness's simulated process layout, for the iommufd backend: each
/// VMA of <see cref="HostMemory"/> gets a real mapping of the same size, and each dmabuf fd a
/// real fd. The rule (documented in the README): RAM is an anonymous MAP_NORESERVE mapping
/// (full size, never touched, so a 2 GiB region costs no memory until the kernel pins it); a
/// BAR mmap is an mmap of /dev/mem, which is VM_PFNMAP|VM_IO like a real BAR mmap (needs a
/// kernel without STRICT_DEVMEM, as the lab kernel; elsewhere it falls back to anonymous
/// memory and says so); a dmabuf fd is a memfd of the BAR's size, a guest RAM memfd one of the
/// region's (kernels that have
/// IOMMU_IOAS_MAP_FILE accept a memfd; 6.12 answers ENOTTY to MAP_FILE whatever the fd).
/// A VA outside every VMA is passed through unchanged: the simulated layout lives above
/// 0x7f0000000000 and the conformance suite's "unmapped" VAs are in the first pages, which
/// no process maps.
/// </summary>
public sealed unsafe class RealHostMemory : IDisposable
{
    readonly List<(ulong SimVa, ulong End, ulong RealVa, bool Anonymous)> _maps = [];
    // The real memfd behind each simulated fd, mapped shared once (not touched: a kernel
    // without MAP_FILE maps the same pages by address).
    readonly Dictionary<int, (int Fd, ulong Va, ulong Size)> _files = [];

    // Anonymous mappings outlive the run that made them, by size: a domain-attached IOAS pins
    // all of a VM's RAM at map time, and in the lab's TCG guest faulting 2 GiB in takes
    // seconds; a mapping whose pages are already there is pinned in a fraction of it. What
    // the pages hold does not matter (nothing reads guest RAM here). The same for memfds
    // (guest RAM from memory-backend-memfd, dmabuf stand-ins).
    static readonly SparePool<ulong> SpareMaps = new();
    static readonly SparePool<(int Fd, ulong Va)> SpareFiles = new();

    // What the pools may hold together, resident once pinned: a third of the memory this
    // process may use; past it a mapping is released. (The lab's differential campaign, pooling
    // without a bound, was killed by the guest's OOM killer at 12 GiB after 24 cells.)
    static readonly long PoolLimit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 3;
    static long _pooled;

    /// <summary>Spare mappings by size, their bytes counted against <see cref="PoolLimit"/>.</summary>
    sealed class SparePool<T>
    {
        readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, System.Collections.Concurrent.ConcurrentBag<T>> _bySize = new();

        public bool TryTake(ulong size, out T item)
        {
            item = default!;
            if (!_bySize.TryGetValue(size, out var spare) || !spare.TryTake(out item!)) return false;
            Interlocked.Add(ref _pooled, -(long)size);
            return true;
        }

        /// <summary>Keeps <paramref name="item"/> if it fits under the limit; false: release it.</summary>
        public bool TryKeep(ulong size, T item)
        {
            if (Interlocked.Add(ref _pooled, (long)size) > PoolLimit)
            {
                Interlocked.Add(ref _pooled, -(long)size);
                return false;
            }
            _bySize.GetOrAdd(size, _ => []).Add(item);
            return true;
        }
    }

    public bool PfnMapFallback { get; private set; }

    public RealHostMemory(HostMemory host)
    {
        foreach (var (va, end, pfnMap) in host.Vmas)
        {
            var (real, anonymous) = Map(end - va, pfnMap);
            _maps.Add((va, end, real, anonymous));
        }
        foreach (var (fd, size) in host.Files)
            _files[fd] = MemFd(size);
    }

    public ulong TranslateVa(ulong simVa)
    {
        foreach (var (s, e, real, _) in _maps)
            if (simVa >= s && simVa < e) return real + (simVa - s);
        return simVa;
    }

    public int TranslateFd(int simFd) => _files.TryGetValue(simFd, out var file) ? file.Fd : simFd;

    /// <summary>Where <paramref name="start"/> of a simulated fd's file is in this process (for
    /// a kernel without MAP_FILE, which maps the same pages by address). Null for an fd the
    /// layout does not have.</summary>
    public ulong? FileVa(int simFd, ulong start) => _files.TryGetValue(simFd, out var file) ? file.Va + start : null;

    (ulong Va, bool Anonymous) Map(ulong size, bool pfnMap)
    {
        if (!pfnMap && SpareMaps.TryTake(size, out ulong reused)) return (reused, true);
        void* p = LibC.MAP_FAILED;
        if (pfnMap)
        {
            int mem = Open("/dev/mem");
            if (mem >= 0)
            {
                // Physical address 0 onwards: the kernel never touches these pages for a map
                // that fails to pin, which is the point (EFAULT on a VM_PFNMAP range).
                p = LibC.mmap(null, (size_t)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, mem, 0);
                LibC.close(mem);
            }
            if (p == LibC.MAP_FAILED) PfnMapFallback = true;
        }
        if (p != LibC.MAP_FAILED) return ((ulong)p, false);
        p = LibC.mmap(null, (size_t)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
        if (p == LibC.MAP_FAILED) throw new IOException($"mmap of {size:#x} bytes failed: errno {LibC.errno}");
        return ((ulong)p, true);
    }

    static (int Fd, ulong Va, ulong Size) MemFd(ulong size)
    {
        if (SpareFiles.TryTake(size, out var reused)) return (reused.Fd, reused.Va, size);
        var name = "vfio-fuzz-file\0"u8;
        int fd;
        fixed (byte* n = name) fd = LibC.memfd_create(n, 0);
        if (fd < 0 || LibC.ftruncate(fd, (off_t)(long)size) != 0) throw new IOException($"memfd_create/ftruncate failed: errno {LibC.errno}");
        void* p = LibC.mmap(null, (size_t)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (p == LibC.MAP_FAILED) throw new IOException($"mmap of a memfd of {size:#x} bytes failed: errno {LibC.errno}");
        return (fd, (ulong)p, size);
    }

    internal static int Open(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
    }

    public void Dispose()
    {
        foreach (var (s, e, real, anonymous) in _maps)
            if (!(anonymous && SpareMaps.TryKeep(e - s, real))) LibC.munmap((void*)real, (size_t)(e - s));
        foreach (var (fd, va, size) in _files.Values)
            if (!SpareFiles.TryKeep(size, (fd, va)))
            {
                LibC.munmap((void*)va, (size_t)size);
                LibC.close(fd);
            }
        _maps.Clear();
        _files.Clear();
    }
}

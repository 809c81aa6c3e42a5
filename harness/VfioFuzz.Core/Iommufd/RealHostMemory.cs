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
    readonly List<(ulong SimVa, ulong End, ulong RealVa)> _maps = [];
    readonly Dictionary<int, int> _fds = [];

    public bool PfnMapFallback { get; private set; }

    public RealHostMemory(HostMemory host)
    {
        foreach (var (va, end, pfnMap) in host.Vmas)
            _maps.Add((va, end, Map(end - va, pfnMap)));
        foreach (var (fd, size) in host.Files)
            _fds[fd] = MemFd(size);
    }

    public ulong TranslateVa(ulong simVa)
    {
        foreach (var (s, e, real) in _maps)
            if (simVa >= s && simVa < e) return real + (simVa - s);
        return simVa;
    }

    public int TranslateFd(int simFd) => _fds.TryGetValue(simFd, out var fd) ? fd : simFd;

    ulong Map(ulong size, bool pfnMap)
    {
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
        if (p == LibC.MAP_FAILED)
            p = LibC.mmap(null, (size_t)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
        if (p == LibC.MAP_FAILED) throw new IOException($"mmap of {size:#x} bytes failed: errno {LibC.errno}");
        return (ulong)p;
    }

    static int MemFd(ulong size)
    {
        var name = "vfio-fuzz-file\0"u8;
        int fd;
        fixed (byte* n = name) fd = LibC.memfd_create(n, 0);
        if (fd < 0 || LibC.ftruncate(fd, (off_t)(long)size) != 0) throw new IOException($"memfd_create/ftruncate failed: errno {LibC.errno}");
        return fd;
    }

    internal static int Open(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
    }

    public void Dispose()
    {
        foreach (var (s, e, real) in _maps) LibC.munmap((void*)real, (size_t)(e - s));
        foreach (var fd in _fds.Values) LibC.close(fd);
        _maps.Clear();
        _fds.Clear();
    }
}

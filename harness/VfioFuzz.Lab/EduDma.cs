using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace VfioFuzz.Lab;

/// <summary>
/// QEMU's edu device as the lab guest sees it (the outer QEMU's -device edu at 00:04.0, behind
/// its emulated VT-d, bound to vfio-pci and passed to the nested QEMU): its DMA engine probes
/// the IOVAs of the nested QEMU's type1 container. The harness reaches edu's registers through
/// the PCI core, not through the nested QEMU: BAR0 mapped from sysfs (resource0), COMMAND read
/// and written through sysfs config, so a probe adds no event to the nested QEMU's recording.
/// The registers (hw/misc/edu.c, read in 7.2): 0x80 source, 0x88 destination, 0x90 count, 0x98
/// command (bit 0 runs the transfer and clears when it is done, about 100 ms of the outer
/// machine's virtual clock later; bit 1 set: from edu's buffer at 0x40000 to the bus address,
/// clear: from the bus address into the buffer). A read the IOMMU blocks completes with zeros.
/// </summary>
sealed unsafe class EduDma : IDisposable
{
    const int Command = 0x04;
    const ushort CommandMem = 0x2, CommandMaster = 0x4;
    const ulong Buffer = 0x40000;
    const long BarSize = 1 << 20;
    readonly string _device;
    readonly SafeFileHandle _config;
    readonly byte* _bar;

    public EduDma(string pciDevice)
    {
        _device = pciDevice;
        string sysfs = Path.Combine("/sys/bus/pci/devices", pciDevice);
        _config = File.OpenHandle(Path.Combine(sysfs, "config"), FileMode.Open, FileAccess.ReadWrite);
        string resource = Path.Combine(sysfs, "resource0");
        int fd;
        fixed (byte* path = System.Text.Encoding.ASCII.GetBytes(resource + "\0")) fd = open(path, O_RDWR | O_SYNC);
        if (fd < 0) throw new IOException($"{resource}: open failed (errno {errno})");
        void* p = mmap(null, (size_t)BarSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (p == MAP_FAILED) throw new IOException($"{resource}: mmap failed (errno {errno})");
        _bar = (byte*)p;
        uint id = Volatile.Read(ref *(uint*)_bar);
        if (id != 0x010000ed) throw new IOException($"{pciDevice}: BAR0 reads ID 0x{id:x8}, not edu's 0x010000ed");
    }

    ushort ReadCommand()
    {
        Span<byte> b = stackalloc byte[2];
        if (RandomAccess.Read(_config, b, Command) != 2) throw new IOException($"{_device}: config read failed");
        return (ushort)(b[0] | b[1] << 8);
    }

    void WriteCommand(ushort value) => RandomAccess.Write(_config, [(byte)value, (byte)(value >> 8)], Command);

    /// <summary>Memory decoding and bus mastering on for the probes (the nested machine may have
    /// either off), the device's COMMAND as it was put back when the scope ends.</summary>
    public IDisposable Enabled()
    {
        ushort saved = ReadCommand();
        WriteCommand((ushort)(saved | CommandMem | CommandMaster));
        return new Restore(() => WriteCommand(saved));
    }

    sealed class Restore(Action undo) : IDisposable { public void Dispose() => undo(); }

    void Write(int register, ulong value) => Volatile.Write(ref *(ulong*)(_bar + register), value);

    /// <summary>An 8-byte register read. Not inlined, on purpose: inlined into a test of one
    /// bit, the optimizing JIT narrows the load to one byte, and edu refuses accesses under 4
    /// bytes (the memory core then answers 0: the run bit looked clear while a transfer was
    /// running, edu dropped the next transfer's writes, and every later probe misread; seen in
    /// the lab once the method was hot enough for tier 1).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    ulong Read(int register) => Volatile.Read(ref *(ulong*)(_bar + register));

    /// <summary>Until the run bit is clear: edu ignores register writes while a transfer runs.</summary>
    void WaitIdle()
    {
        var clock = Stopwatch.StartNew();
        while ((Read(0x98) & 1) != 0)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException($"{_device}: edu's DMA did not complete in 10 s");
            Thread.Sleep(5);
        }
    }

    /// <summary>One 4-byte transfer, waited for.</summary>
    void Transfer(ulong source, ulong destination, bool toBus)
    {
        WaitIdle();
        Write(0x80, source);
        Write(0x88, destination);
        Write(0x90, 4);
        Write(0x98, toBus ? 3UL : 1UL);
        if (Read(0x80) != source || Read(0x88) != destination)
            throw new IOException($"{_device}: edu did not take the transfer 0x{source:x} -> 0x{destination:x}");
        WaitIdle();
    }

    /// <summary>The device reads 4 bytes at <paramref name="iova"/> into its buffer, then writes
    /// them to <paramref name="scratch"/> (an IOVA the caller knows is mapped guest RAM, whose
    /// word it reads back through the nested QEMU).</summary>
    public void ReadInto(ulong iova, ulong scratch)
    {
        Transfer(iova, Buffer, toBus: false);
        Transfer(Buffer, scratch, toBus: true);
    }

    public void Dispose()
    {
        munmap(_bar, (size_t)BarSize);
        _config.Dispose();
    }
}

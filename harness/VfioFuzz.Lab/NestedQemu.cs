using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using VfioFuzz.RealQemu;

namespace VfioFuzz.Lab;

/// <summary>
/// One nested QEMU (Debian's 7.2 in the lab guest) with vfio-pci at 01:00.0 (the mbochs mdev,
/// or edu behind the outer VT-d), behind a PCIe root port at 00:03.0 so it can be unplugged,
/// started stopped (-S) so no firmware runs and qtest owns the machine. Its stderr (the
/// vfio_* trace events of the "log" backend, pci_cfg_read for the marker between ops, and the
/// container calls the LD_PRELOAD shim logs) goes to a file: the recording. qtest drives PCI config through the 0xcf8/0xcfc
/// ports; QMP resets the machine and ends it.
/// </summary>
sealed class NestedQemu : IDisposable
{
    /// <summary>Debian's QEMU 7.2, the lab's nested QEMU unless a run names another binary.</summary>
    public const string DebianBinary = "/usr/bin/qemu-system-x86_64";
    readonly Process _qemu;
    readonly StreamReader _qtestIn;
    readonly StreamWriter _qtestOut;
    readonly Socket _qmp;
    readonly StreamReader _qmpIn;
    readonly StreamWriter _qmpOut;
    readonly Task _pump;

    readonly string _device;
    readonly string _log;
    readonly Dictionary<string, int> _awaited = [];

    /// <summary>The vfio-pci property naming a device of the lab guest: an mdev by its sysfs
    /// path, a PCI device by its address.</summary>
    static (string Key, string Value) VfioDevice(string device) =>
        device.StartsWith('/') ? ("sysfsdev", device) : ("host", device);

    /// <param name="device">The device vfio-pci takes: an mdev's sysfs path or a PCI address.</param>
    /// <param name="id">Its qdev id: the profile's name for it, which device_del and device_add use.</param>
    /// <param name="binary">The QEMU to run: Debian's, or one built from source (qemu-build),
    /// which is told where Debian's firmware is (-L).</param>
    public NestedQemu(string device, string id, string shim, string log, string work, string binary = DebianBinary)
    {
        _device = device;
        _log = log;
        var (key, value) = VfioDevice(device);
        string qtestPath = Path.Combine(work, "qtest.sock"), qmpPath = Path.Combine(work, "qmp.sock");
        File.Delete(qtestPath);
        File.Delete(qmpPath);
        // qtest connects to us: listen before QEMU starts.
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(qtestPath));
        listener.Listen(1);
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, UseShellExecute = false };
        if (binary != DebianBinary)
            foreach (var dir in new[] { "/usr/share/qemu", "/usr/share/seabios" }) { start.ArgumentList.Add("-L"); start.ArgumentList.Add(dir); }
        foreach (var a in new[]
        {
            // Two DIMM slots and room for them from 4 GiB (q35 puts device memory there when
            // all RAM is below 4 GiB): map-region's pc-dimm hotplug.
            "-machine", "q35", "-S", "-display", "none", "-nodefaults", "-m", "128M,slots=2,maxmem=9G",
            "-device", $"pcie-root-port,id={GuestActions.RootPort},chassis=1,addr=03.0",
            "-device", $"vfio-pci,{key}={value},id={id},bus={GuestActions.RootPort},addr=00.0",
            "-trace", "vfio_*", "-trace", "pci_cfg_read",
            "-qtest", $"unix:{qtestPath}", "-qtest-log", "/dev/null",
            "-qmp", $"unix:{qmpPath},server=on,wait=off",
        }) start.ArgumentList.Add(a);
        start.Environment["LD_PRELOAD"] = shim;
        // stderr straight into the recording: QEMU's trace lines and the shim's are written
        // unbuffered to fd 2 in the order they happen.
        // Unbuffered: the lab reads the recording while QEMU runs (AwaitTrace).
        var logFile = new FileStream(log, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _qemu = Process.Start(start) ?? throw new InvalidOperationException($"{binary} did not start");
        _pump = _qemu.StandardError.BaseStream.CopyToAsync(logFile).ContinueWith(_ => logFile.Dispose());

        var accept = listener.AcceptAsync();
        if (!accept.Wait(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"nested QEMU did not connect to qtest (exit: {(_qemu.HasExited ? _qemu.ExitCode.ToString() : "running")}; see {log})");
        var qtest = new NetworkStream(accept.Result, ownsSocket: true);
        _qtestIn = new StreamReader(qtest, Encoding.ASCII);
        _qtestOut = new StreamWriter(qtest, Encoding.ASCII) { AutoFlush = true, NewLine = "\n" };

        _qmp = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        for (int tries = 0; ; tries++)
        {
            try { _qmp.Connect(new UnixDomainSocketEndPoint(qmpPath)); break; }
            catch (SocketException) when (tries < 200) { Thread.Sleep(50); }
        }
        var qmpStream = new NetworkStream(_qmp, ownsSocket: false);
        _qmpIn = new StreamReader(qmpStream, Encoding.UTF8);
        _qmpOut = new StreamWriter(qmpStream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        _qmpIn.ReadLine();   // the greeting
        Qmp("qmp_capabilities");
    }

    /// <summary>One qtest command; its "OK ..." answer (the value of a read).</summary>
    string Qtest(string command)
    {
        _qtestOut.WriteLine(command);
        for (;;)
        {
            string line = _qtestIn.ReadLine() ?? throw new IOException($"qtest closed after '{command}'");
            if (line.StartsWith("IRQ", StringComparison.Ordinal)) continue;   // asynchronous notifications
            if (!line.StartsWith("OK", StringComparison.Ordinal)) throw new IOException($"qtest answered '{line}' to '{command}'");
            return line.Length > 3 ? line[3..] : "";
        }
    }

    void Qmp(string execute, string? arguments = null)
    {
        // Command names are plain identifiers; arguments come as a JSON object already.
        _qmpOut.WriteLine(arguments is null ? $"{{\"execute\": \"{execute}\"}}" : $"{{\"execute\": \"{execute}\", \"arguments\": {arguments}}}");
        for (;;)
        {
            string line = _qmpIn.ReadLine() ?? throw new IOException($"QMP closed after '{execute}'");
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("return", out _)) return;
            if (doc.RootElement.TryGetProperty("error", out var err)) throw new IOException($"QMP {execute}: {err}");
        }
    }

    /// <summary>The 0xcf8 address of a config register: the host bridge at 00:00.0, the root
    /// port at 00:03.0, the vfio-pci device at 01:00.0 behind it.</summary>
    static uint ConfigAddress(string device, int offset) => 0x8000_0000u | (uint)(offset & 0xfc) | device switch
    {
        GuestActions.HostBridge => 0u,
        GuestActions.RootPort => 3u << 11,
        _ => 1u << 16,
    };

    public uint Do(GuestAction action)
    {
        switch (action)
        {
            case ConfigWrite w:
                Qtest($"outl 0xcf8 0x{ConfigAddress(w.Device, w.Offset):x}");
                Qtest(w.Size switch
                {
                    4 => $"outl 0xcfc 0x{w.Value:x}",
                    2 => $"outw 0x{0xcfc + (w.Offset & 2):x} 0x{w.Value:x}",
                    _ => $"outb 0x{0xcfc + (w.Offset & 3):x} 0x{w.Value:x}",
                });
                return 0;
            case ConfigRead r:
                Qtest($"outl 0xcf8 0x{ConfigAddress(r.Device, r.Offset):x}");
                string value = Qtest(r.Size switch { 4 => "inl 0xcfc", 2 => $"inw 0x{0xcfc + (r.Offset & 2):x}", _ => $"inb 0x{0xcfc + (r.Offset & 3):x}" });
                return Convert.ToUInt32(value, 16);
            case ConfigUpdate u:
                uint old = Do(new ConfigRead(u.Device, u.Offset, 2));
                uint next = u.Set ? old | u.Mask : old & ~(uint)u.Mask;
                return Do(new ConfigWrite(u.Device, u.Offset, 2, next));
            case PortWrite p:
                Qtest($"outl 0x{p.Port:x} 0x{p.Value:x}");
                return 0;
            case QmpCommand q:
                Qmp(q.Execute, q.Arguments);
                return 0;
            case VfioDeviceAdd a:
                var (property, host) = VfioDevice(_device);
                // Written out, not serialized: the lab's trimmed build has no reflection-based JSON.
                static string Json(string text) => JsonEncodedText.Encode(text).ToString();
                Qmp("device_add", $"{{\"driver\": \"vfio-pci\", \"{property}\": \"{Json(host)}\", \"id\": \"{Json(a.Device)}\", " +
                    $"\"bus\": \"{GuestActions.RootPort}\", \"addr\": \"00.0\"}}");
                return 0;
            case AwaitTrace t:
                Await(t.Event);
                return 0;
            default:
                throw new ArgumentException($"unknown guest action {action}");
        }
    }

    /// <summary>Waits (up to 20 s) until the recording holds one more <paramref name="traceEvent"/> line
    /// than at the last wait for it.</summary>
    void Await(string traceEvent)
    {
        int want = _awaited[traceEvent] = _awaited.GetValueOrDefault(traceEvent) + 1;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (;;)
        {
            using (var reader = new StreamReader(new FileStream(_log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)))
            {
                int seen = 0;
                for (string? line; (line = reader.ReadLine()) is not null;)
                    if (line.StartsWith(traceEvent + " ", StringComparison.Ordinal) || line.Contains(" " + traceEvent + " ", StringComparison.Ordinal)) seen++;
                if (seen >= want) return;
            }
            if (_qemu.HasExited) throw new IOException($"nested QEMU exited (status {_qemu.ExitCode}) while the lab waited for {traceEvent}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"nested QEMU did not trace {traceEvent} within 20 s; its last lines: {string.Join(" | ", File.ReadLines(_log).Where(l => l.Length > 0).TakeLast(4))}");
            Thread.Sleep(20);
        }
    }

    /// <summary>A 4-byte write to guest physical memory, as the guest's CPU would make it.</summary>
    public void WriteMemory(ulong gpa, uint value) => Qtest($"writel 0x{gpa:x} 0x{value:x}");

    /// <summary>A 4-byte read of guest physical memory, as the guest's CPU would make it.</summary>
    public uint ReadMemory(ulong gpa) => Convert.ToUInt32(Qtest($"readl 0x{gpa:x}"), 16);

    /// <summary><paramref name="length"/> bytes of guest physical memory (qtest's read: one
    /// command, the bytes in hex).</summary>
    public byte[] ReadMemory(ulong gpa, ulong length) => Convert.FromHexString(Qtest($"read 0x{gpa:x} 0x{length:x}").AsSpan(2));

    public void Dispose()
    {
        try { Qmp("quit"); } catch (IOException) { } catch (SocketException) { }
        if (!_qemu.WaitForExit(20_000)) _qemu.Kill();
        _pump.Wait(TimeSpan.FromSeconds(10));
        _qtestIn.Dispose();
        _qmp.Dispose();
        _qemu.Dispose();
    }
}

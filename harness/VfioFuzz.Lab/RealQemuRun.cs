using System.Diagnostics;
using VfioFuzz.Corpus;
using VfioFuzz.Machine;
using VfioFuzz.Listener;
using VfioFuzz.RealQemu;
using VfioFuzz.Targets;

namespace VfioFuzz.Lab;

/// <summary>
/// The real-QEMU lab mode inside the guest: each program runs on a fresh nested QEMU (firmware
/// writes, then each op's guest actions, a marker read after each) and its stderr is kept as
/// the recording; then the same program runs on the World and the qemu-11.0 model and the two
/// are compared op by op. Prints REALQEMU lines the host collects.
/// </summary>
static class RealQemuRun
{
    public static int Run(string programs, string outDir, string mdev, string shim)
    {
        Directory.CreateDirectory(outDir);
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
        int diverged = 0;
        foreach (var path in CorpusFile.Find(programs))
        {
            var entry = CorpusFile.Load(path);
            if (entry.Profile.Name != Profile.Q35Mbochs.Name)
            {
                Console.WriteLine($"REALQEMU {entry.Id} skipped: profile {entry.Profile.Name} is not the nested machine's ({Profile.Q35Mbochs.Name})");
                continue;
            }
            var nested = RealQemuComparison.Translate(entry.Program, entry.Profile);
            foreach (var (op, why) in nested.Skipped) Console.WriteLine($"REALQEMU {entry.Id} skipped op {op.Name}: {why}");
            string log = Path.Combine(outDir, $"{entry.Id}.log");
            var clock = Stopwatch.StartNew();
            try { Drive(entry, nested, mdev, shim, log); }
            catch (Exception e) when (e is IOException or TimeoutException)
            {
                // QEMU refused an action (a QMP error) or went away: no recording of this one.
                Console.WriteLine($"REALQEMU {entry.Id} ERROR: {e.Message}");
                File.Delete(log);
                diverged++;
                continue;
            }
            var (_, divergence) = RealQemuComparison.Judge(entry, log, () => catalog.Create("qemu-11.0"));
            string verdict = divergence is null ? "agrees" : "DIVERGES";
            Console.WriteLine($"REALQEMU {entry.Id} {verdict}: {nested.Runnable.Ops.Length} op(s) in {clock.Elapsed.TotalSeconds:0.0} s");
            if (divergence is not null)
            {
                diverged++;
                foreach (var line in divergence.Describe().Split('\n')) Console.WriteLine($"REALQEMU   {line}");
            }
        }
        return diverged == 0 ? 0 : 1;
    }

    /// <summary>Firmware's writes, then each op's guest actions, a marker read after each.</summary>
    static void Drive(CorpusEntry entry, NestedProgram nested, string mdev, string shim, string log)
    {
        var world = new World(entry.Profile);
        using var qemu = new NestedQemu(mdev, shim, log, Path.GetTempPath());
        foreach (var action in GuestActions.Firmware(world)) qemu.Do(action);
        Marker(qemu, world);
        foreach (var op in nested.Runnable.Ops)
        {
            foreach (var action in GuestActions.For(op, world)!) qemu.Do(action);
            world.Apply(op, IgnoreWorldEvents.Instance);
            Marker(qemu, world);
        }
    }

    static void Marker(NestedQemu qemu, World world) =>
        qemu.Do(new ConfigRead(world.Devices[0].Id, GuestActions.MarkerOffset, 4));
}

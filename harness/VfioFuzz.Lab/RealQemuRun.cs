using System.Diagnostics;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Listener;
using VfioFuzz.Programs;
using VfioFuzz.RealQemu;
using VfioFuzz.Targets;

namespace VfioFuzz.Lab;

/// <summary>
/// The real-QEMU lab mode inside the guest: each program runs on a fresh nested QEMU (firmware
/// writes, then each op's guest actions, a marker read after each) and its stderr is kept as
/// the recording; then the same program runs on the World and the qemu-7.2 model and the two
/// are compared op by op. Prints REALQEMU lines the host collects.
/// </summary>
static class RealQemuRun
{
    /// <param name="edu">The PCI address of edu bound to vfio-pci in this guest (behind the
    /// outer VT-d), or null: q35-edu's programs are then skipped.</param>
    public static int Run(string programs, string outDir, string mdev, string shim, string? edu)
    {
        Directory.CreateDirectory(outDir);
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
        using var eduDma = edu is null ? null : new EduDma(edu);
        int diverged = 0;
        foreach (var path in CorpusFile.Find(programs))
        {
            var entry = CorpusFile.Load(path);
            var machine = NestedMachine.Of(entry.Profile);
            string? device = machine is null ? null : DeviceOf(machine, mdev, edu);
            if (machine is null || device is null)
            {
                Console.WriteLine($"REALQEMU {entry.Id} skipped: profile {entry.Profile.Name} is not a nested machine of this guest ({NestedMachine.Names}; edu {(edu is null ? "absent" : "at " + edu)})");
                continue;
            }
            var nested = RealQemuComparison.Translate(entry.Program, entry.Profile);
            foreach (var (op, why) in nested.Skipped) Console.WriteLine($"REALQEMU {entry.Id} skipped op {op.Name}: {why}");
            string log = Path.Combine(outDir, $"{entry.Id}.log");
            var clock = Stopwatch.StartNew();
            var run = Compare(machine, nested.Runnable, device, shim, log, catalog, edu: eduDma);
            if (run.Refused is not null)
            {
                Console.WriteLine($"REALQEMU {entry.Id} ERROR: {run.Refused}");
                File.Delete(log);   // no recording of a run QEMU cut short
                diverged++;
                continue;
            }
            Console.WriteLine($"REALQEMU {entry.Id} {(run.Listener is null ? "agrees" : "DIVERGES")}: {nested.Runnable.Ops.Length} op(s) in {clock.Elapsed.TotalSeconds:0.0} s");
            if (run.Listener is not null) Print("REALQEMU  ", run.Listener);
            if (run.Probes is { } readings)
            {
                Console.WriteLine($"REALQEMU-STAGE2 {entry.Id} {(run.Stage2 is null ? "agrees" : "DIVERGES")}: {readings} DMA probe(s) through the IOMMU, {run.Unjudged} not judged");
                if (run.Stage2 is not null) Console.WriteLine($"REALQEMU-STAGE2  {run.Stage2.Signature}: {run.Stage2.Describe()}");
            }
            if (run.First is not null) diverged++;
        }
        return diverged == 0 ? 0 : 1;
    }

    /// <summary>
    /// The differential campaign: random programs (the fuzz decoder on seeded random bytes, up
    /// to 8 ops, skipping ops without a guest-visible form) on the nested QEMU and on the model,
    /// for a time budget, on the mdev machine and, when edu is here, every other program on the
    /// edu machine with its Stage-2 probes. A divergence is a finding: its signature
    /// (<see cref="StepDivergence.Signature"/>, <see cref="Stage2Divergence.Signature"/>) is new
    /// or known; a new one is minimized (ddmin over the ops, each candidate on a fresh nested
    /// QEMU, kept while it shows the same signature) and saved in OUTDIR as SIGNATURE.yaml (the
    /// program; the description holds both sides) beside SIGNATURE.log (the nested QEMU's
    /// recording of it) and, on edu, SIGNATURE.probes, which `vfio-fuzz realqemu
    /// OUTDIR/SIGNATURE.yaml` judges again. A program QEMU refuses is kept as
    /// fuzz-SEED-N.yaml/.log. Prints REALQEMU-FUZZ lines, programs/s at the end.
    /// </summary>
    public static int Fuzz(int seconds, int seed, string outDir, string mdev, string shim, string model, string? edu)
    {
        Directory.CreateDirectory(outDir);
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
        using var eduDma = edu is null ? null : new EduDma(edu);
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        int programs = 0, diverged = 0, errors = 0;
        var exercised = new SortedDictionary<string, int>(StringComparer.Ordinal);   // which ops the campaign ran, for the summary
        catalog.Create(model);   // an unknown id fails here, before any nested run
        Console.WriteLine($"REALQEMU-FUZZ seed {seed}, {seconds} s, profile {NestedMachine.Mbochs.Profile.Name}{(edu is null ? "" : $" and {NestedMachine.Edu.Profile.Name}")}, model {model}");
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var machine = edu is not null && programs % 2 == 1 ? NestedMachine.Edu : NestedMachine.Mbochs;
            string device = DeviceOf(machine, mdev, edu)!;
            var profile = machine.Profile;
            var bytes = new byte[4 * rng.Next(1, 9)];
            rng.NextBytes(bytes);
            var runnable = RealQemuComparison.Translate(ProgramDecoder.Decode(bytes, profile), profile).Runnable;
            if (runnable.Ops.Length == 0) continue;
            string id = $"fuzz-{seed}-{programs}", log = Path.Combine(outDir, id + ".log");
            programs++;
            foreach (var op in runnable.Ops) exercised[op.Name] = exercised.GetValueOrDefault(op.Name) + 1;
            var run = Compare(machine, runnable, device, shim, log, catalog, model, eduDma);
            if (run.Refused is null && run.First is null) { DeleteRecording(log); continue; }
            if (run.Refused is not null)
            {
                // Kept as it came: the program (why, in its description) and what QEMU printed.
                File.WriteAllText(Path.Combine(outDir, id + ".yaml"), CorpusFile.ToYaml(id, $"QEMU refused it: {run.Refused}", profile, runnable, new Dictionary<string, IReadOnlyCollection<string>>()));
                Console.WriteLine($"REALQEMU-FUZZ {id} ERROR: {run.Refused}");
                errors++;
                continue;
            }
            diverged++;
            var divergence = run.First!;
            string signature = divergence.Signature, stem = Path.Combine(outDir, signature.Replace(":", "--"));
            if (File.Exists(stem + ".yaml"))
            {
                Console.WriteLine($"REALQEMU-FUZZ {id} known {signature} ({runnable.Ops.Length} op(s))");
                DeleteRecording(log);
                continue;
            }
            var minimizer = new Minimizer(p => Compare(machine, p, device, shim, stem + ".log", catalog, model, eduDma).First?.Signature is { } s ? [s] : []);
            var minimized = minimizer.Minimize(runnable, signature);
            // The recording of the minimized program, and both sides of its divergence; should
            // the nested run not repeat it, the program as found and its recording.
            var final = Compare(machine, minimized, device, shim, stem + ".log", catalog, model, eduDma).First;
            if (final?.Signature != signature)
            {
                (minimized, final) = (runnable, divergence);
                File.Move(log, stem + ".log", overwrite: true);
                if (File.Exists(Stage2Probes.ReadingsOf(log))) File.Move(Stage2Probes.ReadingsOf(log), Stage2Probes.ReadingsOf(stem + ".log"), overwrite: true);
            }
            else DeleteRecording(log);
            File.WriteAllText(stem + ".yaml", CorpusFile.ToYaml(signature.Replace(":", "--"), final!.Describe(), profile, minimized, new Dictionary<string, IReadOnlyCollection<string>>()));
            Console.WriteLine($"REALQEMU-FUZZ {id} NEW {signature} ({runnable.Ops.Length} -> {minimized.Ops.Length} op(s), {minimizer.Runs} nested runs): {stem}.yaml");
            Print("REALQEMU-FUZZ  ", final);
        }
        Console.WriteLine($"REALQEMU-FUZZ {programs} program(s) in {clock.Elapsed.TotalSeconds:0} s ({programs / clock.Elapsed.TotalSeconds:0.00}/s), " +
                          $"{diverged} diverged, {errors} refused by QEMU");
        Console.WriteLine($"REALQEMU-FUZZ ops run: {string.Join(", ", exercised.Select(e => $"{e.Key} {e.Value}"))}");
        return diverged + errors == 0 ? 0 : 1;
    }

    /// <summary>A program's run on the nested QEMU judged: why QEMU refused it, the first
    /// listener divergence, and on a machine with Stage-2 probes how many readings, how many
    /// could not be judged and the first probe that contradicts the model.</summary>
    sealed record NestedRun(string? Refused, StepDivergence? Listener = null, int? Probes = null, int Unjudged = 0, Stage2Divergence? Stage2 = null)
    {
        public INestedDivergence? First => (INestedDivergence?)Listener ?? Stage2;
    }

    /// <summary>One program on a fresh nested QEMU (with edu's Stage-2 probes after each step on
    /// a machine whose container has a domain, their readings kept beside the recording as
    /// NAME.probes), then judged against the model.</summary>
    static NestedRun Compare(NestedMachine machine, FuzzProgram runnable, string device, string shim, string log, TargetCatalog catalog,
        string model = "qemu-7.2", EduDma? edu = null)
    {
        ListenerTarget Model() => catalog.Create(model);
        var probes = machine.Domain && edu is not null ? new Stage2Run(edu, Stage2Probes.Plan(runnable, machine, Model)) : null;
        try { Drive(machine.Profile, runnable, device, shim, log, afterStep: probes is null ? null : probes.AfterStep); }
        catch (Exception e) when (e is IOException or TimeoutException) { return new NestedRun(e.Message); }
        var listener = RealQemuComparison.FirstDivergence(runnable, machine.Profile, Model, log, File.ReadAllText(log));
        if (probes is null) return new NestedRun(null, listener);
        File.WriteAllText(Stage2Probes.ReadingsOf(log), Stage2Probes.Format(probes.Readings));
        var (stage2, unjudged) = Stage2Probes.Judge(runnable, machine, Model, probes.Readings);
        return new NestedRun(null, listener, probes.Readings.Count, unjudged, stage2);
    }

    /// <summary>The vfio-pci device of the lab guest a nested machine takes, or null when this
    /// guest has none for it (edu not bound).</summary>
    static string? DeviceOf(NestedMachine machine, string mdev, string? edu) =>
        machine == NestedMachine.Edu ? edu : machine == NestedMachine.Mbochs ? mdev : null;

    /// <summary>A nested run's recording and its probe readings, gone.</summary>
    static void DeleteRecording(string log)
    {
        File.Delete(log);
        File.Delete(Stage2Probes.ReadingsOf(log));
    }

    static void Print(string prefix, INestedDivergence divergence)
    {
        foreach (var line in divergence.Describe().Split('\n')) Console.WriteLine($"{prefix} {line}");
    }

    /// <summary>
    /// The seed's bug on real code: each program on a QEMU built from source with a patch under
    /// test (harness/lab/qemu-build), recorded as on Debian's QEMU. No model is compared: the
    /// recordings go to `vfio-fuzz import-trace`, whose checks judge the real DMA stream.
    /// Prints REALQEMU-PATCHED lines.
    /// </summary>
    public static int Patched(string programs, string outDir, string mdev, string shim, string binary)
    {
        Directory.CreateDirectory(outDir);
        int failed = 0;
        foreach (var path in CorpusFile.Find(programs))
        {
            var entry = CorpusFile.Load(path);
            if (NestedMachine.Of(entry.Profile) != NestedMachine.Mbochs) continue;   // the patched QEMU runs on the mdev only
            var runnable = RealQemuComparison.Translate(entry.Program, entry.Profile).Runnable;
            string log = Path.Combine(outDir, $"{entry.Id}.log");
            try
            {
                Drive(entry.Profile, runnable, mdev, shim, log, binary);
                Console.WriteLine($"REALQEMU-PATCHED {entry.Id} recorded: {runnable.Ops.Length} op(s)");
            }
            catch (Exception e) when (e is IOException or TimeoutException)
            {
                Console.WriteLine($"REALQEMU-PATCHED {entry.Id} ERROR: {e.Message}");
                failed++;
            }
        }
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Firmware's writes, then each op's guest actions, a marker read after each, and
    /// after boot and each op what <paramref name="afterStep"/> does (the Stage-2 probes).</summary>
    static void Drive(Profile profile, FuzzProgram runnable, string device, string shim, string log, string binary = NestedQemu.DebianBinary,
        Action<int, NestedQemu>? afterStep = null)
    {
        var world = new World(profile);
        using var qemu = new NestedQemu(device, world.Devices[0].Id, shim, log, Path.GetTempPath(), binary);
        foreach (var action in GuestActions.Firmware(world)) qemu.Do(action);
        Marker(qemu);
        afterStep?.Invoke(0, qemu);
        for (int step = 1; step <= runnable.Ops.Length; step++)
        {
            var op = runnable.Ops[step - 1];
            foreach (var action in GuestActions.For(op, world)!) qemu.Do(action);
            world.Apply(op, IgnoreWorldEvents.Instance);
            Marker(qemu);
            afterStep?.Invoke(step, qemu);
        }
    }

    static void Marker(NestedQemu qemu) =>
        qemu.Do(new ConfigRead(GuestActions.HostBridge, GuestActions.MarkerOffset, 4));
}

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
            var (refused, divergence) = Compare(entry.Profile, nested.Runnable, mdev, shim, log, catalog);
            if (refused is not null)
            {
                Console.WriteLine($"REALQEMU {entry.Id} ERROR: {refused}");
                File.Delete(log);   // no recording of a run QEMU cut short
                diverged++;
                continue;
            }
            string verdict = divergence is null ? "agrees" : "DIVERGES";
            Console.WriteLine($"REALQEMU {entry.Id} {verdict}: {nested.Runnable.Ops.Length} op(s) in {clock.Elapsed.TotalSeconds:0.0} s");
            if (divergence is null) continue;
            diverged++;
            Print("REALQEMU  ", divergence);
        }
        return diverged == 0 ? 0 : 1;
    }

    /// <summary>
    /// The differential campaign: random programs (the fuzz decoder on seeded random bytes, up
    /// to 8 ops, skipping ops without a guest-visible form) on the nested QEMU and on the model,
    /// for a time budget. A divergence is a finding: its signature
    /// (<see cref="StepDivergence.Signature"/>) is new or known; a new one is minimized (ddmin
    /// over the ops, each candidate on a fresh nested QEMU, kept while it shows the same
    /// signature) and saved in OUTDIR as SIGNATURE.yaml (the program; the description holds
    /// both sides) beside SIGNATURE.log (the nested QEMU's recording of it), which
    /// `vfio-fuzz realqemu OUTDIR/SIGNATURE.yaml` judges again. A program QEMU refuses is kept
    /// as fuzz-SEED-N.yaml/.log. Prints REALQEMU-FUZZ lines, programs/s at the end.
    /// </summary>
    public static int Fuzz(int seconds, int seed, string outDir, string mdev, string shim, string model)
    {
        Directory.CreateDirectory(outDir);
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
        var profile = Profile.Q35Mbochs;
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        int programs = 0, diverged = 0, errors = 0;
        catalog.Create(model);   // an unknown id fails here, before any nested run
        Console.WriteLine($"REALQEMU-FUZZ seed {seed}, {seconds} s, profile {profile.Name}, model {model}");
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var bytes = new byte[4 * rng.Next(1, 9)];
            rng.NextBytes(bytes);
            var runnable = RealQemuComparison.Translate(ProgramDecoder.Decode(bytes, profile), profile).Runnable;
            if (runnable.Ops.Length == 0) continue;
            string id = $"fuzz-{seed}-{programs}", log = Path.Combine(outDir, id + ".log");
            programs++;
            var (refused, divergence) = Compare(profile, runnable, mdev, shim, log, catalog, model);
            if (refused is null && divergence is null) { File.Delete(log); continue; }
            if (refused is not null)
            {
                // Kept as it came: the program (why, in its description) and what QEMU printed.
                File.WriteAllText(Path.Combine(outDir, id + ".yaml"), CorpusFile.ToYaml(id, $"QEMU refused it: {refused}", profile, runnable, new Dictionary<string, IReadOnlyCollection<string>>()));
                Console.WriteLine($"REALQEMU-FUZZ {id} ERROR: {refused}");
                errors++;
                continue;
            }
            diverged++;
            string signature = divergence!.Signature, stem = Path.Combine(outDir, signature.Replace(":", "--"));
            if (File.Exists(stem + ".yaml"))
            {
                Console.WriteLine($"REALQEMU-FUZZ {id} known {signature} ({runnable.Ops.Length} op(s))");
                File.Delete(log);
                continue;
            }
            var minimizer = new Minimizer(p => Compare(profile, p, mdev, shim, stem + ".log", catalog, model).Divergence?.Signature is { } s ? [s] : []);
            var minimized = minimizer.Minimize(runnable, signature);
            // The recording of the minimized program, and both sides of its divergence; should
            // the nested run not repeat it (it never has), the program as found and its recording.
            var (_, final) = Compare(profile, minimized, mdev, shim, stem + ".log", catalog, model);
            if (final?.Signature != signature) (minimized, final) = (runnable, divergence);
            if (final == divergence) File.Move(log, stem + ".log", overwrite: true);
            else File.Delete(log);
            File.WriteAllText(stem + ".yaml", CorpusFile.ToYaml(signature.Replace(":", "--"), final!.Describe(), profile, minimized, new Dictionary<string, IReadOnlyCollection<string>>()));
            Console.WriteLine($"REALQEMU-FUZZ {id} NEW {signature} ({runnable.Ops.Length} -> {minimized.Ops.Length} op(s), {minimizer.Runs} nested runs): {stem}.yaml");
            Print("REALQEMU-FUZZ  ", final);
        }
        Console.WriteLine($"REALQEMU-FUZZ {programs} program(s) in {clock.Elapsed.TotalSeconds:0} s ({programs / clock.Elapsed.TotalSeconds:0.00}/s), " +
                          $"{diverged} diverged, {errors} refused by QEMU");
        return diverged + errors == 0 ? 0 : 1;
    }

    /// <summary>One program on a fresh nested QEMU, then on the model: why QEMU refused it (a
    /// QMP error, or QEMU gone), or the first divergence (null when every step agrees).</summary>
    static (string? Refused, StepDivergence? Divergence) Compare(Profile profile, FuzzProgram runnable, string mdev, string shim, string log, TargetCatalog catalog,
        string model = "qemu-7.2")
    {
        try { Drive(profile, runnable, mdev, shim, log); }
        catch (Exception e) when (e is IOException or TimeoutException) { return (e.Message, null); }
        return (null, RealQemuComparison.FirstDivergence(runnable, profile, () => catalog.Create(model), log, File.ReadAllText(log)));
    }

    static void Print(string prefix, StepDivergence divergence)
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
            if (entry.Profile.Name != Profile.Q35Mbochs.Name) continue;
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

    /// <summary>Firmware's writes, then each op's guest actions, a marker read after each.</summary>
    static void Drive(Profile profile, FuzzProgram runnable, string mdev, string shim, string log, string binary = NestedQemu.DebianBinary)
    {
        var world = new World(profile);
        using var qemu = new NestedQemu(mdev, shim, log, Path.GetTempPath(), binary);
        foreach (var action in GuestActions.Firmware(world)) qemu.Do(action);
        Marker(qemu, world);
        foreach (var op in runnable.Ops)
        {
            foreach (var action in GuestActions.For(op, world)!) qemu.Do(action);
            world.Apply(op, IgnoreWorldEvents.Instance);
            Marker(qemu, world);
        }
    }

    static void Marker(NestedQemu qemu, World world) =>
        qemu.Do(new ConfigRead(world.Devices[0].Id, GuestActions.MarkerOffset, 4));
}

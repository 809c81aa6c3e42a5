using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using VfioFuzz.Benchmarking;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.PlantedBugs;
using VfioFuzz.Programs;
using VfioFuzz.Reports;
using VfioFuzz.Running;

namespace VfioFuzz.Cli;

/// <summary>
/// `bench`: whole-pipeline figures on this machine, each with a ratio against a baseline
/// measured in the same run, as FuzzBench and Magma report them: in-process executions of
/// 32-op programs (baseline: the empty program); AFL++ executions (baseline: the in-process
/// random engine on the same target); time-to-first-finding per seed bug, coverage-guided
/// (AFL++) against pure random programs from the same decoder; time to each planted deep bug
/// per engine (AFL++, libFuzzer, random) and how many each finds; ioctl round trips through
/// Tmds.LibC and through the harness's backend against a C loop (in the kernel lab when this
/// machine has no /dev/iommu). Results go to reports/bench-&lt;time&gt;.yaml. Exit 0 when it
/// ran (a missed target is reported, not an error), 2 on bad input or a failed step.
/// </summary>
static class BenchCommand
{
    static readonly string[] Sections = ["exec", "afl", "ttff", "depth", "ioctl"];

    // The coverage-guided engines the depth section can race against random programs (fuzz's --engine names).
    static readonly string[] DepthEngines = ["afl", "libfuzzer", "guided"];

    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "a few seconds in all (CI): 1 s of execs, 3 s of AFL++, one run of one seed bug, no kernel lab" };
        var only = new Option<string>("--only") { Description = "comma-separated sections: exec, afl, ttff, depth, ioctl", DefaultValueFactory = _ => string.Join(",", Sections) };
        var runs = new Option<int>("--runs") { Description = "runs per bug and engine in ttff and depth (seeds 1..N)", DefaultValueFactory = _ => 5 };
        var ttffBudget = new Option<string>("--ttff-budget") { Description = "cap per time-to-first-finding run", DefaultValueFactory = _ => "60s" };
        var depthBudget = new Option<string>("--depth-budget") { Description = "cap per deep-bug run (each planted bug, each engine)", DefaultValueFactory = _ => "60s" };
        var depthEngines = new Option<string>("--depth-engines") { Description = "comma-separated guided engines the depth section runs beside random programs: afl, libfuzzer, guided", DefaultValueFactory = _ => string.Join(",", DepthEngines) };
        var reports = new Option<string>("--reports") { Description = "where bench-<time>.yaml goes", DefaultValueFactory = _ => "reports" };
        var cmd = new Command("bench", "Measure throughput, time-to-first-finding and the real backend's ioctl cost, each with a ratio")
            { quick, only, runs, ttffBudget, depthBudget, depthEngines, reports };
        cmd.SetAction(r => Run(r.GetValue(quick), r.GetValue(only)!, r.GetValue(runs), r.GetValue(ttffBudget)!, r.GetValue(depthBudget)!, r.GetValue(depthEngines)!, r.GetValue(reports)!));
        return cmd;
    }

    static int Run(bool quick, string onlyText, int runs, string ttffBudgetText, string depthBudgetText, string depthEnginesText, string reportsDir)
    {
        var only = onlyText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        if (only.FirstOrDefault(s => !Sections.Contains(s)) is { } unknown) return Cli.Fail($"--only: unknown section '{unknown}' ({string.Join(", ", Sections)})");
        var racing = depthEnginesText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        if (racing.FirstOrDefault(e => !DepthEngines.Contains(e)) is { } unknownEngine) return Cli.Fail($"--depth-engines: unknown engine '{unknownEngine}' ({string.Join(", ", DepthEngines)})");
        if (racing.Count == 0) return Cli.Fail($"--depth-engines: name at least one of {string.Join(", ", DepthEngines)}");
        if (runs < 1) return Cli.Fail($"--runs {runs}: must be at least 1");
        if (!Duration.TryParse(ttffBudgetText, out var ttffBudget, out var durationProblem)) return Cli.Fail($"--ttff-budget {durationProblem}");
        if (!Duration.TryParse(depthBudgetText, out var depthBudget, out durationProblem)) return Cli.Fail($"--depth-budget {durationProblem}");
        if (quick) (runs, ttffBudget, depthBudget) = (1, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        OutputFolder.EnsureWritable(reportsDir, "--reports");
        string? root = FuzzDriverBuild.FindRepoRoot();
        if (root is null && (only.Contains("afl") || only.Contains("ttff") || only.Contains("depth") || only.Contains("ioctl")))
            return Cli.Fail("bench runs AFL++ and the kernel lab from the repository: run it inside a vfio-fuzz checkout (or --only exec)");

        var figures = new List<BenchFigure>();
        try
        {
            var engine = root is null ? null : new AflEngine(new FuzzDriverBuild(root));
            if ((only.Contains("afl") || only.Contains("ttff")) && engine!.Prepare() is { } error) return Cli.Fail(error);
            var racers = new List<IFuzzEngine>();
            if (only.Contains("depth"))
                foreach (var name in DepthEngines.Where(racing.Contains))
                {
                    IFuzzEngine racer = name switch
                    {
                        "afl" => engine!,
                        "libfuzzer" => new LibFuzzerEngine(new FuzzDriverBuild(root!)),
                        _ => new GuidedEngine(new FuzzDriverBuild(root!, FuzzDriverBuild.ListenerCode)),
                    };
                    if (racer.Prepare() is { } racerError) return Cli.Fail(racerError);
                    racers.Add(racer);
                }
            if (only.Contains("exec")) figures.AddRange(Exec(quick ? 1 : 10));
            if (only.Contains("afl")) figures.AddRange(Afl(engine!, quick ? 3 : 30));
            if (only.Contains("ttff")) figures.AddRange(TimeToFirstFinding(engine!, runs, ttffBudget, quick));
            if (only.Contains("depth")) figures.AddRange(Depth(racers, runs, depthBudget, quick));
            if (only.Contains("ioctl")) figures.AddRange(Ioctl(root!, quick));
        }
        catch (BenchStepException e) { return Cli.Fail(e.Message); }

        Console.WriteLine();
        Console.WriteLine($"{"figure",-58} {"value",-26} {"ratio",8}  {"target",-24} verdict");
        foreach (var f in figures)
            Console.WriteLine($"{f.Name,-58} {f.Value,-26} {(f.Ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-"),8}  {f.Target,-24} {f.Verdict}" +
                              (f.Note.Length > 0 ? $"\n    {f.Note}" : "") + $"\n    baseline: {f.Baseline}");
        string path = Path.Combine(reportsDir, $"{RunIds.Claim(reportsDir, RunIds.Stamp("bench"), ".yaml")}.yaml");
        BenchFigure.Save(path, "vfio-fuzz bench " + (quick ? "--quick " : "") + $"--only {string.Join(",", only)} --runs {runs}", figures);
        Console.WriteLine($"report: {path}");
        return Cli.Ok;
    }

    /// <summary>Programs/s of the shared 32-op workload on one thread, and of the empty
    /// program (boot, register, teardown: the floor every execution pays); then the bytes each
    /// allocates (the runs' own thread's allocation counter over the same timed loops); then the
    /// same programs with no oracle watching, which weighs the oracles' share of the time.</summary>
    static IEnumerable<BenchFigure> Exec(int seconds)
    {
        var (inputs, _) = BenchWorkload.Create(64);
        var runner = new ProgramRunner(BenchWorkload.Profile, () => Cli.Catalog.Create(BenchWorkload.TargetId));
        var unwatched = new ProgramRunner(BenchWorkload.Profile, () => Cli.Catalog.Create(BenchWorkload.TargetId), new RunOptions(Oracles: () => []));
        (double PerSecond, double Bytes) Rate(TimeSpan budget, Action<long> run)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            long n = 0;
            while (clock.Elapsed < budget) run(n++);
            return (n / clock.Elapsed.TotalSeconds, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n);
        }
        Rate(TimeSpan.FromSeconds(0.5), i => runner.Run(inputs[i & 63], out _));   // JIT and tiering
        var (programs, programBytes) = Rate(TimeSpan.FromSeconds(seconds), i => runner.Run(inputs[i & 63], out _));
        var (empty, emptyBytes) = Rate(TimeSpan.FromSeconds(Math.Max(1, seconds / 2.0)), _ => runner.Run(FuzzProgram.Empty));
        Rate(TimeSpan.FromSeconds(0.5), i => unwatched.Run(inputs[i & 63], out _));
        var (bare, _) = Rate(TimeSpan.FromSeconds(seconds), i => unwatched.Run(inputs[i & 63], out _));
        Console.WriteLine($"bench: exec: {programs:0} programs/s ({1e6 / programs:0.0} us each, {programBytes:0} B allocated), empty program {empty:0}/s ({emptyBytes:0} B), " +
                          $"no oracle {bare:0}/s");
        yield return new BenchFigure($"in-process execs/s, {BenchWorkload.OpsPerProgram}-op programs ({BenchWorkload.TargetId}, sim)", $"{programs:0}/s ({1e6 / programs:0.0} us)",
            $"the empty program: {empty:0}/s ({1e6 / empty:0.0} us: World reset, register, teardown)", programs / empty, ">= 100000/s", programs >= 100_000);
        yield return new BenchFigure($"bytes allocated per {BenchWorkload.OpsPerProgram}-op program ({BenchWorkload.TargetId}, sim)", $"{programBytes:0} B",
            $"the empty program: {emptyBytes:0} B", programBytes / emptyBytes, "<= 2048 B", programBytes <= 2048,
            "GC.GetAllocatedBytesForCurrentThread over the timed loops above; per op kind: harness/bench's OpKindBenchmarks (MemoryDiagnoser)");
        yield return new BenchFigure($"in-process execs/s, no oracle attached ({BenchWorkload.TargetId}, sim)", $"{bare:0}/s ({1e6 / bare:0.0} us)",
            $"the empty program: {empty:0}/s", bare / empty, "-", null,
            $"World, listener and simulated IOAS alone (the same inputs, no oracle attached): the oracles take {100 * (1 - programs / bare):0}% of a watched program's time");
    }

    /// <summary>AFL++'s executions/s on the same target and profile, against the in-process
    /// random engine's on the same decoder (random inputs of random length, as AFL++'s are); then
    /// one instance per core (-M/-S, as `fuzz --jobs N` runs them), against the one instance.
    /// One instance leaves the machine partly idle: each execution is a chain of wakeups
    /// (afl-fuzz, SharpFuzz's fork server, the driver process, and back), so a second instance
    /// runs in the first one's waits.</summary>
    static IEnumerable<BenchFigure> Afl(AflEngine engine, int seconds)
    {
        var profile = BenchWorkload.Profile;
        string target = BenchWorkload.TargetId;
        using var scratch = new ScratchDir();
        var store = new FindingStore(Path.Combine(scratch.Path, "inprocess"));
        var inProcess = new InProcessCampaign(profile, target, () => Cli.Catalog.Create(target), store)
            .Run(1, TimeSpan.FromSeconds(seconds), null, CancellationToken.None);

        var (execs, runTime) = AflRate(engine, scratch, 1, seconds);
        double afl = execs / runTime;
        Console.WriteLine($"bench: afl: {afl:0} exec/s, in-process random {inProcess.ExecsPerSecond:0} exec/s");
        yield return new BenchFigure($"AFL++ execs/s ({target}, {profile.Name}, 1 instance)", $"{afl:0}/s ({execs} in {runTime:0} s)",
            $"in-process random engine, same decoder: {inProcess.ExecsPerSecond:0}/s", afl / inProcess.ExecsPerSecond, "-", null,
            "each AFL++ execution goes afl-fuzz -> SharpFuzz's fork server -> its long-lived driver process (pipes; the input read from .cur_input, the driver's instrumented code on the coverage map) and back; in-process has none of it");

        int cores = Environment.ProcessorCount;
        if (cores < 2) yield break;
        var (allExecs, allTime) = AflRate(engine, scratch, cores, seconds);
        double all = allExecs / allTime;
        Console.WriteLine($"bench: afl: {all:0} exec/s over {cores} instances");
        yield return new BenchFigure($"AFL++ execs/s ({target}, {profile.Name}, {cores} instances)", $"{all:0}/s ({allExecs} in {allTime:0} s)",
            $"1 instance: {afl:0}/s", all / afl, ">= 14000/s", all >= 14_000,
            $"one instance per core (-M main, -S s1...), executions of all instances per second; issue 20's 14,000/s is read here for the machine, " +
            "not for one instance (one instance's chain of wakeups leaves the cores idle between executions)");
    }

    /// <summary>One AFL++ campaign of <paramref name="instances"/> on the workload: executions
    /// of all instances and the seconds it ran.</summary>
    static (long Execs, double Seconds) AflRate(AflEngine engine, ScratchDir scratch, int instances, int seconds)
    {
        var profile = BenchWorkload.Profile;
        string target = BenchWorkload.TargetId;
        var aflStore = new FindingStore(Path.Combine(scratch.Path, $"afl-{instances}"));
        var run = new EngineRun(target, profile, TimeSpan.FromSeconds(seconds), Resume: false, Instances: instances, aflStore,
            new Triage(profile, target, new ProgramRunner(profile, () => Cli.Catalog.Create(target)), aflStore, engine.Name),
            new ProgressLine(live: false), UntilFirstFinding: false, Seed: 1, WorkName: "bench-exec");
        engine.Run(run, CancellationToken.None);
        var (execs, runTime) = AflEngine.FinalStats(engine.OutputDir(run));
        if (execs == 0 || runTime <= 0) throw new BenchStepException($"AFL++ wrote no fuzzer_stats in {engine.OutputDir(run)} (see afl-fuzz.log there)");
        return (execs, runTime);
    }

    /// <summary>Per seed bug, N runs of AFL++ (stopping at the bug's signature) and of pure
    /// random programs from the same generator and decoder, seeds 1..N; median, min, max.</summary>
    static IEnumerable<BenchFigure> TimeToFirstFinding(AflEngine engine, int runs, TimeSpan budget, bool quick)
    {
        var entries = CorpusFile.Find(Path.Combine(FuzzDriverBuild.FindRepoRoot()!, "corpus", "bugs")).Select(p => CorpusFile.Load(p));
        var bugs = SeedBug.From(entries, Cli.Catalog, out var bootVisible);
        if (bootVisible.Count > 0)
            Console.WriteLine($"bench: ttff: {string.Join(", ", bootVisible)}: every expected signature shows on the empty program (found by any engine's first execution; not timed)");
        foreach (var bug in quick ? bugs.Take(1) : bugs)
        {
            var hunts = Hunt("ttff", bug.Name, new HuntTarget(bug.TargetId, bug.Profile, bug.Signature, Cli.Catalog), [engine, null], runs, budget);
            var (guided, random) = (hunts[engine.Name], hunts[RandomEngine]);
            double guidedMedian = guided.Median(budget), randomMedian = random.Median(budget);
            yield return new BenchFigure($"time-to-first-finding, {bug.Name}: {bug.Signature}",
                $"median {guided.ShowMedian(budget)} (min {Show(guided.Min, budget)}, max {Show(guided.Max, budget)}, n={runs})",
                $"pure random: median {random.ShowMedian(budget)} (min {Show(random.Min, budget)}, max {Show(random.Max, budget)})",
                guidedMedian > 0 ? randomMedian / guidedMedian : null, "< 10 s and >= 5x random",
                guided.MostlyFound && guidedMedian < 10 && randomMedian >= 5 * guidedMedian,
                $"median executions to find it: AFL++ {guided.MedianExecs}, random {random.MedianExecs}; " +
                $"the corpus reproducer has {bug.ReproducerOps} ops; AFL++ time includes its start (driver fork server) and is the crash file's write time; " +
                "a run that did not find it counts as the cap (a lower bound)");
        }
    }

    /// <summary>The deep-bug measure, as Magma counts canaries: per planted bug (a chain of 5-13
    /// steps, harness/VfioFuzz.PlantedBugs), N runs of each engine, AFL++, libFuzzer and pure
    /// random programs, until the bug's signature; then how many bugs each engine finds (in at
    /// least half its runs) within the budget, against random's count.</summary>
    static IEnumerable<BenchFigure> Depth(IReadOnlyList<IFuzzEngine> engines, int runs, TimeSpan budget, bool quick)
    {
        var catalog = new TargetCatalog(typeof(PlantedBug).Assembly);
        var bugs = catalog.Targets.Select(t => catalog.Create(t.Id)).OfType<PlantedBug>().OrderBy(b => b.Reproducer.Ops.Length).ThenBy(b => b.Info.Id, StringComparer.Ordinal).ToArray();
        var found = new Dictionary<string, int>();
        var hunters = engines.Cast<IFuzzEngine?>().Append(null).ToArray();
        foreach (var bug in quick ? bugs.Take(1) : bugs)
        {
            var hunts = Hunt("depth", bug.Info.Id, new HuntTarget(bug.Info.Id, bug.Profile, PlantedBug.Signature, catalog), hunters, runs, budget);
            foreach (var (name, h) in hunts) found[name] = found.GetValueOrDefault(name) + (h.MostlyFound ? 1 : 0);
            var random = hunts[RandomEngine];
            // The ratio only where some guided engine found it: two capped runs compare nothing.
            var bestGuided = hunts.Where(kv => kv.Key != RandomEngine && kv.Value.MostlyFound).Select(kv => kv.Value.Median(budget)).DefaultIfEmpty(0).Min();
            yield return new BenchFigure($"deep bug {bug.Info.Id} ({bug.Reproducer.Ops.Length} ops, {bug.Depth} steps)",
                string.Join(", ", hunts.Where(kv => kv.Key != RandomEngine).Select(kv => $"{kv.Key} {kv.Value.Summary(budget)}")),
                $"pure random: {random.Summary(budget)}", bestGuided > 0 ? random.Median(budget) / bestGuided : null, "-", null,
                $"median executions: {string.Join(", ", hunts.Select(kv => $"{kv.Key} {kv.Value.MedianExecs}"))}{(engines.Any(e => e is LibFuzzerEngine) ? " (libFuzzer's crash files do not name theirs)" : "")}; " +
                "found = in at least half the runs; a run that did not find it counts as the cap");
        }
        int randomFound = found.GetValueOrDefault(RandomEngine);
        int guidedFound = engines.Max(e => found.GetValueOrDefault(e.Name));
        int total = quick ? 1 : bugs.Length;
        yield return new BenchFigure($"deep bugs found within {budget.TotalSeconds:0} s (of {total}, n={runs} runs each)",
            string.Join(", ", engines.Select(e => $"{e.Name} {found.GetValueOrDefault(e.Name)}/{total}")),
            $"pure random programs, same decoder and budget: {randomFound}/{total}",
            randomFound > 0 ? (double)guidedFound / randomFound : null, ">= 2x random", guidedFound >= 2 * randomFound && guidedFound > randomFound,
            "each engine starts from corpus/seeds (random from nothing); the planted bugs are test-only targets, never offered by `targets`");
    }

    const string RandomEngine = "random";

    /// <summary>What a hunt runs: a target (from its catalog) on a profile, until a signature.</summary>
    sealed record HuntTarget(string TargetId, Profile Profile, string Signature, TargetCatalog Catalog);

    /// <summary>One engine's runs at one bug: seconds to the signature (null: not within the
    /// budget) and the executions it took where known.</summary>
    sealed class Hunts
    {
        public List<double?> Seconds { get; } = [];
        public List<long> Execs { get; } = [];

        public bool MostlyFound => Seconds.Count(s => s is null) * 2 <= Seconds.Count;

        public double Median(TimeSpan cap)
        {
            var sorted = Seconds.Select(v => v ?? cap.TotalSeconds).Order().ToArray();
            int n = sorted.Length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }

        public string ShowMedian(TimeSpan cap) => Show(MostlyFound ? Median(cap) : null, cap);

        public double? Min => Seconds.Any(v => v is not null) ? Seconds.Where(v => v is not null).Min() : null;

        public double? Max => Seconds.Any(v => v is null) ? null : Seconds.Max();

        public string MedianExecs => Execs.Count == 0 ? "-" : Execs.Order().ElementAt(Execs.Count / 2).ToString();

        public string Summary(TimeSpan cap) => $"{Seconds.Count(s => s is not null)}/{Seconds.Count} (median {ShowMedian(cap)})";
    }

    /// <summary>Seeds 1..N: each engine (null: pure random programs from the in-process
    /// generator) on the target until it shows the signature or the budget runs out.</summary>
    static Dictionary<string, Hunts> Hunt(string section, string name, HuntTarget target, IReadOnlyList<IFuzzEngine?> engines, int runs, TimeSpan budget)
    {
        var hunts = engines.ToDictionary(e => e?.Name ?? RandomEngine, _ => new Hunts());
        for (int seed = 1; seed <= runs; seed++)
        {
            var line = new List<string>();
            foreach (var engine in engines)
            {
                var (seconds, execs) = engine is null ? HuntRandom(target, (ulong)seed, budget) : HuntWith(engine, target, (ulong)seed, budget);
                var h = hunts[engine?.Name ?? RandomEngine];
                h.Seconds.Add(seconds);
                if (execs is { } n) h.Execs.Add(n);
                line.Add($"{engine?.Name ?? RandomEngine} {Show(seconds, budget)}" + (execs is { } x ? $" ({x} execs)" : ""));
            }
            Console.WriteLine($"bench: {section} {name} {target.Signature} seed {seed}: {string.Join(", ", line)}");
        }
        return hunts;
    }

    /// <summary>An engine campaign that stops at the signature (the driver crashes on it alone).</summary>
    static (double? Seconds, long? Execs) HuntWith(IFuzzEngine engine, HuntTarget target, ulong seed, TimeSpan budget)
    {
        using var scratch = new ScratchDir();
        var store = new FindingStore(scratch.Path);
        var run = new EngineRun(target.TargetId, target.Profile, budget, Resume: false, Instances: 1, store,
            new Triage(target.Profile, target.TargetId, new ProgramRunner(target.Profile, () => target.Catalog.Create(target.TargetId)), store, engine.Name),
            new ProgressLine(live: false), UntilFirstFinding: true, UntilSignature: target.Signature, Seed: seed, WorkName: "bench-hunt");
        var start = DateTime.UtcNow;
        engine.Run(run, CancellationToken.None);
        if (!run.FirstSaved.TryGetValue(target.Signature, out var first)) return (null, null);
        // AFL++ names a crash file with the executions done when it was saved.
        return (Math.Max(0, (first.Utc - start).TotalSeconds), AflExecs(first.File));
    }

    static (double? Seconds, long? Execs) HuntRandom(HuntTarget target, ulong seed, TimeSpan budget)
    {
        using var scratch = new ScratchDir();
        var hit = new InProcessCampaign(target.Profile, target.TargetId, () => target.Catalog.Create(target.TargetId), new FindingStore(scratch.Path))
            .TimeTo(target.Signature, seed, budget, CancellationToken.None);
        return hit is { } h ? (h.Elapsed.TotalSeconds, h.Execs) : (null, null);
    }

    /// <summary>IOAS map+unmap pairs/s: here when this machine has /dev/iommu (with cc for the
    /// C loop), else in the kernel lab guest (harness/lab/run bench).</summary>
    static IEnumerable<BenchFigure> Ioctl(string root, bool quick)
    {
        Dictionary<string, (double Rate, string Domain)> rates;
        string where;
        if (File.Exists(IommufdIoas.Device))
        {
            where = "this machine's /dev/iommu";
            // The lab program's own bench-ioctl runs here as in the guest: same code, same rounds.
            rates = RunAndParse("bash", ["-c", $"cc -O2 -static -o /tmp/vfio-fuzz-ioctl-loop {root}/harness/lab/ioctl-loop.c && " +
                "for r in 1 2 3; do /tmp/vfio-fuzz-ioctl-loop 20000; done && " +
                $"dotnet run -c Release --project {root}/harness/VfioFuzz.Lab -- bench-ioctl 20000"]);
        }
        else if (quick)
        {
            Console.WriteLine("bench: ioctl: skipped with --quick (no /dev/iommu here; without --quick the kernel lab boots, about 30 s with a cached kernel)");
            yield break;
        }
        else
        {
            where = "the kernel lab guest (TCG, 2 vCPUs)";
            Console.WriteLine("bench: ioctl: no /dev/iommu here: booting the kernel lab (harness/lab/run bench)");
            rates = RunAndParse(Path.Combine(root, "harness", "lab", "run"), ["bench"]);
        }
        if (!rates.TryGetValue("ioctl-c", out var c) || !rates.TryGetValue("ioctl-tmds", out var tmds) || !rates.TryGetValue("ioctl-harness", out var harnessRate))
            throw new BenchStepException($"the ioctl benchmark printed no BENCH lines for ioctl-c, ioctl-tmds and ioctl-harness ({where})");
        string baseline = $"C loop (harness/lab/ioctl-loop.c), same calls: {c.Rate:0} pairs/s on {where} ({c.Domain})";
        yield return new BenchFigure("ioctl round trips, Tmds.LibC direct (IOAS_MAP+UNMAP pairs/s)", $"{tmds.Rate:0}/s",
            baseline, c.Rate / tmds.Rate, "<= 1.5x the C loop's time", c.Rate / tmds.Rate <= 1.5, "ratio = time per pair relative to C");
        yield return new BenchFigure("ioctl round trips, harness backend (IommufdIoas: watchdog + shadow)", $"{harnessRate.Rate:0}/s",
            baseline, c.Rate / harnessRate.Rate, "<= 1.5x the C loop's time", c.Rate / harnessRate.Rate <= 1.5,
            "each call is handed to the watchdog thread (two thread switches) so a stuck ioctl becomes a timeout finding instead of a hung run");
    }

    /// <summary>Runs a process and collects its "BENCH name value extra" lines; a name printed
    /// several times (rounds) gets the median.</summary>
    static Dictionary<string, (double, string)> RunAndParse(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new BenchStepException($"could not start {file}");
        var rounds = new Dictionary<string, List<(double Value, string Extra)>>();
        while (p.StandardOutput.ReadLine() is { } line)
        {
            var parts = line.Split(' ', 4);
            if (parts.Length >= 3 && parts[0] == "BENCH" && double.TryParse(parts[2], CultureInfo.InvariantCulture, out var v))
                (rounds.TryGetValue(parts[1], out var list) ? list : rounds[parts[1]] = []).Add((v, parts.Length > 3 ? parts[3] : ""));
        }
        p.WaitForExit();
        if (p.ExitCode != 0) throw new BenchStepException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}");
        return rounds.ToDictionary(kv => kv.Key, kv => kv.Value.OrderBy(r => r.Value).ElementAt(kv.Value.Count / 2));
    }

    static long? AflExecs(string crashFile) =>
        Path.GetFileName(crashFile).Split(',').FirstOrDefault(p => p.StartsWith("execs:", StringComparison.Ordinal)) is { } part
        && long.TryParse(part["execs:".Length..], out var n) ? n : null;

    static string Show(double? seconds, TimeSpan cap) => seconds switch
    {
        null => $"> {cap.TotalSeconds:0} s",
        < 1 => $"{seconds * 1000:0.0} ms",
        _ => $"{seconds:0.00} s",
    };

    /// <summary>A temporary folder for a measurement's findings, removed afterwards: the bench
    /// never writes into corpus/.</summary>
    sealed class ScratchDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("vfio-fuzz-bench-").FullName;

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }

    sealed class BenchStepException(string message) : Exception(message);
}

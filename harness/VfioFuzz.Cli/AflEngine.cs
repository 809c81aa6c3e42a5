using System.Diagnostics;
using VfioFuzz.Programs;

namespace VfioFuzz.Cli;

/// <summary>
/// AFL++ (Debian's afl++) driving the SharpFuzz out-of-process driver. AFL++ keeps its own
/// layout (queue/, crashes/, hangs/, fuzzer_stats) under .vfio-fuzz/afl/&lt;target&gt;-&lt;profile&gt;-&lt;kernel&gt;/;
/// with several instances the first is the main (-M main) and the rest secondaries
/// (-S s1, s2, ...), sharing the queue. Oracle findings are crashes; a program slower than
/// -t 5000 ms is a hang.
/// </summary>
sealed class AflEngine(FuzzDriverBuild build) : IFuzzEngine
{
    public string Name => "afl++";

    public string? Prepare() => DebianTool.Ensure("afl-fuzz", () => DebianTool.OnPath("afl-fuzz"), "afl++") ?? build.PrepareDriver() ?? build.PrepareMutator();

    public EngineOutcome Run(EngineRun run, CancellationToken cancel)
    {
        string outDir = OutputDir(run);
        // In a shared sync folder each box holds its own instance folder; elsewhere the campaign's.
        using var busy = CampaignLock.Acquire(run.Sync is null ? outDir : Path.Combine(outDir, run.Sync.Name));
        string seeds = Path.Combine(build.WorkDir, "seeds", Name, run.BoxSlug);   // per engine and box: campaigns never share it
        var (seedCount, dictionary) = build.WriteSeeds(seeds, run.Profile);
        string first = run.Sync?.Name ?? "main";
        // Instance names: the first is this box's name (or main), the rest <name>-s1, -s2...
        string InstanceName(int i) => i == 0 ? first : run.Sync is null ? $"s{i}" : $"{first}-s{i}";
        bool canResume = (run.Resume || run.Sync is not null) && Directory.Exists(Path.Combine(outDir, first, "queue"));
        // A shared sync folder holds the other boxes' work: it is never deleted, only joined.
        if (!canResume && run.Sync is null && Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        // AFL++'s RNG seed (-s), printed so a campaign can be rerun with the same one.
        ulong seed = run.Seed ?? (ulong)Random.Shared.NextInt64(1, int.MaxValue);
        Console.WriteLine($"[{run.TargetId}] afl++: seed {seed}, {run.Instances} instance(s), {(canResume ? "resuming the previous queue" : $"{seedCount} seed(s) from corpus/seeds")}, output {outDir}");

        // Boot-time findings and seeds that show a bug are findings before AFL++ starts: the
        // driver then knows them, so AFL++ keeps those seeds instead of dropping them as crashes.
        run.TriageStart(Directory.GetFiles(seeds));
        string known = string.Join(",", run.WriteKnown(Path.Combine(build.WorkDir, "known", run.BoxSlug + ".txt")));
        var execs = new LiveExecs(Path.Combine(build.WorkDir, "execs", run.BoxSlug));
        var starts = Enumerable.Range(0, run.Instances).Select(i =>
        {
            var psi = new ProcessStartInfo("afl-fuzz");
            string[] args = ["-i", canResume ? "-" : seeds, "-o", outDir, i == 0 && first == "main" ? "-M" : "-S", InstanceName(i),
                "-m", "none", "-t", "5000", "-V", ((int)Math.Max(1, run.Budget.TotalSeconds)).ToString(),
                "-s", (seed + (ulong)i).ToString(), .. dictionary is null ? (string[])[] : ["-x", dictionary],
                "--", .. DieWithParent.Prefix, "dotnet", build.DriverDll, run.TargetId, run.Profile.Name, run.Kernel, known];
            foreach (var a in args) psi.ArgumentList.Add(a);
            foreach (var (k, v) in new[] { ("AFL_SKIP_BIN_CHECK", "1"), ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"), ("AFL_SKIP_CPUFREQ", "1"),
                         ("AFL_NO_UI", "1"), ("AFL_NO_AFFINITY", "1"),
                         // Import the sync folder's queues before fuzzing: a box joining (or rejoining)
                         // a campaign starts from the others' work. Otherwise AFL++ 4.04c syncs only
                         // after a whole queue entry is fuzzed, and an early entry's havoc stage keeps
                         // doubling while it finds new paths: measured, a first sync came after more
                         // than a minute, or not at all in a short run.
                         ("AFL_IMPORT_FIRST", "1"),
                         // Op-level mutations (op-mutator.c) beside AFL++'s own byte-level havoc.
                         ("AFL_CUSTOM_MUTATOR_LIBRARY", build.Mutator) })
                psi.Environment[k] = v;
            run.SetDriverCrashRule(psi);
            execs.Export(psi);
            return psi;
        }).ToArray();

        var clock = Stopwatch.StartNew();
        string Stats() => $"[{run.TargetId}] afl++ {execs.Line()} {EngineSupervisor.FoldersSummary(outDir)} {EngineSupervisor.FindingsSummary(run.Triage)} " +
                          $"elapsed: {clock.Elapsed.TotalSeconds:0}s remaining: {Math.Max(0, (run.Budget - clock.Elapsed).TotalSeconds):0}s";
        if (!run.FirstFindingReached)
            new EngineSupervisor(run, Path.Combine(outDir, "afl-fuzz.log"))
                .Supervise(starts, DateTime.UtcNow + run.Budget, () => EngineSupervisor.InstanceFiles(outDir, "crashes"), Stats, cancel);
        run.Progress.Print($"{Stats()} (log: {Path.Combine(outDir, "afl-fuzz.log")})");
        return new EngineOutcome(Math.Max(execs.Total, FinalStats(outDir).Execs), seed);
    }

    public string OutputDir(EngineRun run) => run.Sync?.Dir ?? Path.Combine(build.WorkDir, "afl", run.Slug);

    /// <summary>Executions and seconds fuzzed over all instances, from the fuzzer_stats AFL++
    /// writes when it stops.</summary>
    public static (long Execs, double Seconds) FinalStats(string outDir)
    {
        long execs = 0;
        double seconds = 0;
        foreach (var (key, value) in StatsLines(outDir))
        {
            if (key == "execs_done" && long.TryParse(value, out var e)) execs += e;
            if (key == "run_time" && double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var t)) seconds = Math.Max(seconds, t);
        }
        return (execs, seconds);
    }

    static IEnumerable<(string Key, string Value)> StatsLines(string outDir) =>
        (Directory.Exists(outDir) ? Directory.EnumerateDirectories(outDir).Select(d => Path.Combine(d, "fuzzer_stats")).Where(File.Exists) : [])
        .SelectMany(File.ReadAllLines)
        .Select(line => line.Split(':', 2))
        .Where(kv => kv.Length == 2)
        .Select(kv => (kv[0].Trim(), kv[1].Trim()));
}

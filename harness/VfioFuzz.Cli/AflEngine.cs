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

    public string? Prepare() => DebianTool.Ensure("afl-fuzz", () => DebianTool.OnPath("afl-fuzz"), "afl++") ?? build.PrepareDriver();

    public EngineOutcome Run(EngineRun run, CancellationToken cancel)
    {
        string outDir = OutputDir(run);
        string seeds = Path.Combine(build.WorkDir, "seeds", run.Slug);
        int seedCount = build.WriteSeeds(seeds, run.Profile);
        bool canResume = run.Resume && Directory.Exists(Path.Combine(outDir, "main", "queue"));
        if (!canResume && Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        // AFL++'s RNG seed (-s), printed so a campaign can be rerun with the same one.
        ulong seed = run.Seed ?? (ulong)Random.Shared.NextInt64(1, int.MaxValue);
        Console.WriteLine($"[{run.TargetId}] afl++: seed {seed}, {run.Instances} instance(s), {(canResume ? "resuming the previous queue" : $"{seedCount} seed(s) from corpus/seeds")}, output {outDir}");

        string known = string.Join(",", run.Store.KnownSignatures(run.TargetId));
        var starts = Enumerable.Range(0, run.Instances).Select(i =>
        {
            var psi = new ProcessStartInfo("afl-fuzz");
            foreach (var a in new[] { "-i", canResume ? "-" : seeds, "-o", outDir, i == 0 ? "-M" : "-S", i == 0 ? "main" : $"s{i}",
                         "-m", "none", "-t", "5000", "-V", ((int)Math.Max(1, run.Budget.TotalSeconds)).ToString(),
                         "-s", (seed + (ulong)i).ToString(),
                         "--", "dotnet", build.DriverDll, run.TargetId, run.Profile.Name, run.Kernel, known })
                psi.ArgumentList.Add(a);
            foreach (var (k, v) in new[] { ("AFL_SKIP_BIN_CHECK", "1"), ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"), ("AFL_SKIP_CPUFREQ", "1"),
                         ("AFL_NO_UI", "1"), ("AFL_NO_AFFINITY", "1") })
                psi.Environment[k] = v;
            run.SetDriverCrashRule(psi);
            return psi;
        }).ToArray();

        var clock = Stopwatch.StartNew();
        string Stats() => $"[{run.TargetId}] afl++ {AflStats(outDir)} {EngineSupervisor.FindingsSummary(run.Triage)} " +
                          $"elapsed: {clock.Elapsed.TotalSeconds:0}s remaining: {Math.Max(0, (run.Budget - clock.Elapsed).TotalSeconds):0}s";
        // Boot-time findings are not crashes to the driver; the empty program records them.
        run.Triage.Consider(FuzzProgram.Empty);
        if (!run.FirstFindingReached)
            new EngineSupervisor(run, Path.Combine(outDir, "afl-fuzz.log"))
                .Supervise(starts, DateTime.UtcNow + run.Budget, () => InstanceFiles(outDir, "crashes"), Stats, cancel);
        run.Progress.Print($"{Stats()} (log: {Path.Combine(outDir, "afl-fuzz.log")})");
        return new EngineOutcome(Math.Max(FinalStats(outDir).Execs, PlotStats(outDir).Execs), seed);
    }

    public string OutputDir(EngineRun run) => Path.Combine(build.WorkDir, "afl", run.Slug);

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

    static IEnumerable<string> InstanceFiles(string outDir, string sub) =>
        Directory.Exists(outDir)
            ? Directory.EnumerateDirectories(outDir).Select(d => Path.Combine(d, sub)).Where(Directory.Exists)
                .SelectMany(d => Directory.EnumerateFiles(d, "id:*"))
            : [];

    /// <summary>Corpus, crashes and hangs are counted live from AFL++'s folders; execs and
    /// exec/s from the last line of each instance's plot_data, which AFL++ appends every 5 s
    /// (fuzzer_stats is rewritten only every minute, so it showed `exec/s: 0` for a minute).</summary>
    static string AflStats(string outDir)
    {
        var (execs, perSecond) = PlotStats(outDir);
        return $"#{execs} exec/s: {perSecond:0} corpus: {InstanceFiles(outDir, "queue").Count()} " +
               $"crashes: {InstanceFiles(outDir, "crashes").Count()} hangs: {InstanceFiles(outDir, "hangs").Count()}";
    }

    /// <summary>Total executions and exec/s over all instances, from plot_data's newest row
    /// (columns found by name in its `# relative_time, ..., execs_per_sec, total_execs, ...` header).</summary>
    public static (long Execs, double PerSecond) PlotStats(string outDir)
    {
        long execs = 0;
        double perSecond = 0;
        if (!Directory.Exists(outDir)) return (0, 0);
        foreach (var plot in Directory.EnumerateDirectories(outDir).Select(d => Path.Combine(d, "plot_data")).Where(File.Exists))
        {
            string[] lines;
            try { lines = File.ReadAllLines(plot); }
            catch (IOException) { continue; }   // being appended to: the next update reads it
            if (lines.Length < 2 || !lines[0].StartsWith('#')) continue;
            var header = lines[0].TrimStart('#').Split(',', StringSplitOptions.TrimEntries);
            var row = lines[^1].Split(',', StringSplitOptions.TrimEntries);
            int total = Array.IndexOf(header, "total_execs"), rate = Array.IndexOf(header, "execs_per_sec");
            if (total >= 0 && total < row.Length && long.TryParse(row[total], out var e)) execs += e;
            if (rate >= 0 && rate < row.Length && double.TryParse(row[rate], System.Globalization.CultureInfo.InvariantCulture, out var r)) perSecond += r;
        }
        return (execs, perSecond);
    }
}

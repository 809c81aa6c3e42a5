using System.Diagnostics;
using VfioFuzz.Programs;

namespace VfioFuzz.Cli;

/// <summary>
/// libFuzzer (clang-14 -fsanitize=fuzzer) driving the SharpFuzz libFuzzer runner through our
/// libfuzzer-bridge. Layout under .vfio-fuzz/libfuzzer/&lt;target&gt;-&lt;profile&gt;-&lt;kernel&gt;/: corpus/
/// (libFuzzer's growing corpus, kept for --resume), artifacts/ (crash-*, timeout-*), libfuzzer.log.
/// libFuzzer stops at its first crash, so the engine restarts it for the rest of the budget
/// with the signatures found so far marked known, which the driver then ignores. With
/// several instances libFuzzer runs in fork mode (-fork=N).
/// </summary>
sealed class LibFuzzerEngine(FuzzDriverBuild build) : IFuzzEngine
{
    public string Name => "libfuzzer";

    public string? Prepare() => build.PrepareDriver() ?? build.PrepareBridge();

    public EngineOutcome Run(EngineRun run, CancellationToken cancel)
    {
        string dir = Path.Combine(build.WorkDir, "libfuzzer", run.Slug);
        using var busy = CampaignLock.Acquire(dir);
        string corpus = Path.Combine(dir, "corpus"), artifacts = Path.Combine(dir, "artifacts") + "/";
        string seeds = Path.Combine(build.WorkDir, "seeds", Name, run.BoxSlug);   // per engine and box: campaigns never share it
        if (!run.Resume && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(corpus);
        Directory.CreateDirectory(artifacts);
        var (seedCount, dictionary) = build.WriteSeeds(seeds, run.Profile);
        Console.WriteLine($"[{run.TargetId}] libfuzzer: {run.Instances} worker(s), {seedCount} seed(s) from corpus/seeds, output {dir}");

        var stats = new LibFuzzerStats();
        var execs = new LiveExecs(Path.Combine(build.WorkDir, "execs", run.BoxSlug));
        var clock = Stopwatch.StartNew();
        string Stats() => $"[{run.TargetId}] libfuzzer {execs.Line()} {stats.Line()} {EngineSupervisor.FindingsSummary(run.Triage)} " +
                          $"elapsed: {clock.Elapsed.TotalSeconds:0}s remaining: {Math.Max(0, (run.Budget - clock.Elapsed).TotalSeconds):0}s";
        run.TriageStart(Directory.GetFiles(seeds));
        string knownFile = Path.Combine(build.WorkDir, "known", run.BoxSlug + ".txt");
        var supervisor = new EngineSupervisor(run, Path.Combine(dir, "libfuzzer.log")) { OnOutput = stats.Parse };
        var deadline = DateTime.UtcNow + run.Budget;
        // libFuzzer's -seed (round r uses seed + r), chosen here so the report can name it.
        ulong seed = run.Seed ?? (ulong)Random.Shared.NextInt64(1, int.MaxValue);
        Console.WriteLine($"[{run.TargetId}] libfuzzer: seed {seed}");
        for (int round = 0; !cancel.IsCancellationRequested && !run.FirstFindingReached && DateTime.UtcNow < deadline - TimeSpan.FromSeconds(1); round++)
        {
            var known = run.WriteKnown(knownFile);
            var psi = new ProcessStartInfo(build.Bridge);
            foreach (var a in new[] { "-max_len=" + ProgramDecoder.MaxInputBytes, "-timeout=5", "-print_final_stats=1", $"-seed={(uint)(seed + (ulong)round)}",
                         $"-max_total_time={(int)Math.Max(1, (deadline - DateTime.UtcNow).TotalSeconds)}", $"-artifact_prefix={artifacts}" })
                psi.ArgumentList.Add(a);
            if (dictionary is not null) psi.ArgumentList.Add($"-dict={dictionary}");
            if (run.Instances > 1) psi.ArgumentList.Add($"-fork={run.Instances}");
            psi.ArgumentList.Add(corpus);
            psi.ArgumentList.Add(seeds);
            foreach (var a in new[] { "dotnet", build.DriverDll, run.TargetId, run.Profile.Name, run.Kernel, string.Join(",", known) })
                psi.ArgumentList.Add(a == "dotnet" ? "--driver=dotnet" : $"--driver-arg={a}");
            run.SetDriverCrashRule(psi);   // the bridge passes its environment on to the driver it execs
            execs.Export(psi);
            stats.StartRound();
            bool finished = supervisor.Supervise([psi], deadline, () => Directory.EnumerateFiles(artifacts), Stats, cancel);
            // libFuzzer ends a round at its first crash or timeout; anything else is the budget.
            if (!finished || !stats.RoundEndedOnFinding) break;
            if (round >= 1000) break;   // a target that crashes on every input, e.g. a wedged driver
        }
        run.Progress.Print($"{Stats()} (log: {Path.Combine(dir, "libfuzzer.log")})");
        return new EngineOutcome(Math.Max(execs.Total, stats.Execs), seed);
    }

    /// <summary>The numbers of libFuzzer's status lines (`#N NEW cov: C ft: F corp: K/B exec/s: E`),
    /// with execs summed over restarted rounds.</summary>
    sealed class LibFuzzerStats
    {
        long _previousRounds, _round, _cov, _features, _corpus;

        public bool RoundEndedOnFinding { get; private set; }

        public void StartRound()
        {
            _previousRounds += _round;
            _round = 0;
            RoundEndedOnFinding = false;
        }

        public void Parse(string line)
        {
            if (line.Contains("ERROR: libFuzzer:") || line.Contains("ALARM: working on the last Unit"))
                RoundEndedOnFinding = true;
            if (!line.StartsWith('#') || Field(line, "#") is not { } n) return;
            lock (this)
            {
                _round = n;
                _cov = Field(line, "cov: ") ?? _cov;
                _features = Field(line, "ft: ") ?? _features;
                _corpus = Field(line, "corp: ") ?? _corpus;
            }
        }

        /// <summary>The number right after <paramref name="key"/>, if the line has one.</summary>
        static long? Field(string line, string key)
        {
            int at = line.IndexOf(key, StringComparison.Ordinal);
            if (at < 0) return null;
            int start = at + key.Length, end = start;
            while (end < line.Length && char.IsAsciiDigit(line[end])) end++;
            return end > start ? long.Parse(line.AsSpan(start, end - start)) : null;
        }

        public long Execs
        {
            get { lock (this) return _previousRounds + _round; }
        }

        public string Line()
        {
            // cov counts the bridge's own instrumented PCs (a handful); the driver's SharpFuzz
            // counters reach libFuzzer as features (its extra counters), so ft is the coverage.
            lock (this) return $"ft: {_features} cov: {_cov} corpus: {_corpus}";
        }
    }
}

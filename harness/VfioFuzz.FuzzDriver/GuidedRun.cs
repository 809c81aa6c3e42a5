using System.Diagnostics;
using VfioFuzz.Fuzzing;
using VfioFuzz.Programs;
using VfioFuzz.Reports;

/// <summary>
/// `--guided OUT SEEDS SEED SECONDS TARGET PROFILE KERNEL [KNOWN]`: the driver's own
/// coverage-guided loop (<see cref="GuidedLoop"/>) for SECONDS, starting from every file of
/// SEEDS and of OUT/queue (what an earlier run kept: a killed campaign resumes from it). The
/// layout is AFL++'s, so the CLI reads it the same way: OUT/queue/id:N (inputs kept for new
/// coverage), OUT/crashes/id:N,sig:S,execs:E (an input showing a crash signature, one file per
/// signature and run), OUT/hangs/id:N,execs:E (a program that never finished: the driver then
/// exits with GuidedHang.ExitCode and the CLI starts it again), and a status line on stdout
/// once a second. With VFIO_FUZZ_MAX_EXECS set
/// it stops after that many executions. OUT's siblings are the campaign's other instances: their
/// queues are taken in at the start and every 10 s (GuidedSync), kept ones named `sync:<instance>`;
/// a single instance has none, so its run depends on its seed alone.
/// </summary>
static class GuidedRun
{
    /// <summary>The per-program budget: the runner's watchdog reports a slower program as a
    /// timeout finding (afl-fuzz -t 5000 and libFuzzer -timeout=5 give the other engines the same).</summary>
    public static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(5);

    /// <summary>Stops the loop after this many executions (as libFuzzer's -runs=N), so a run is
    /// reproducible to the execution whatever the machine's speed.</summary>
    public const string MaxExecsVariable = "VFIO_FUZZ_MAX_EXECS";

    /// <summary>How often an instance takes in what the campaign's other instances kept
    /// (<see cref="GuidedSync"/>): also once at its start.</summary>
    static readonly TimeSpan SyncEvery = TimeSpan.FromSeconds(10);

    public static int Run(string[] args, Func<string[], Harness> createHarness)
    {
        if (args.Length is < 7 or > 8 || !ulong.TryParse(args[2], out var seed) || !int.TryParse(args[3], out var seconds))
        {
            Console.Error.WriteLine("usage: VfioFuzz.FuzzDriver --guided OUT-DIR SEEDS-DIR SEED SECONDS TARGET PROFILE KERNEL|default [KNOWN-SIGNATURES,...]");
            return 2;
        }
        string outDir = args[0], queueDir = Path.Combine(outDir, "queue"), crashDir = Path.Combine(outDir, "crashes"), hangDir = Path.Combine(outDir, "hangs");
        Directory.CreateDirectory(queueDir);
        Directory.CreateDirectory(crashDir);
        Directory.CreateDirectory(hangDir);
        // Missing bytes decode as zero, so padding to whole ops changes no program.
        // queue/ and crashes/ count their id:* files only: an atomic write killed half-way leaves a temporary beside them.
        var starts = Files(args[1], "*").Concat(Files(queueDir, "id:*")).Select(PadToOps).ToList();
        var dictionary = starts.SelectMany(Ops).DistinctBy(Convert.ToHexString).ToList();

        using var loop = new GuidedLoop(seed, dictionary);
        var harness = createHarness(args[4..]);   // instrumented code runs only once the loop owns the map
        int kept = Directory.GetFiles(queueDir, "id:*").Length, crashes = Directory.GetFiles(crashDir, "id:*").Length;
        var crashed = new HashSet<string>();
        using var hangs = new HangWatch(GuidedHang.After, input =>
        {
            string path = Path.Combine(hangDir, $"id:{Directory.GetFiles(hangDir, "id:*").Length:D6},execs:{loop.Execs + 1}");
            AtomicFile.WriteAllBytes(path, input);
            Console.WriteLine($"guided: hang: a program ran for more than {GuidedHang.After.TotalSeconds:0} s (a listener call that never returns); " +
                              $"its input is {path}; this instance stops");
            Console.Out.Flush();
            Environment.Exit(GuidedHang.ExitCode);
        });
        bool Execute(byte[] input)
        {
            hangs.Begin(input);
            string? found;
            try { found = harness.Crash(input); }
            finally { hangs.End(); }
            if (found is not { } signature) return false;
            // One file per signature and run: the CLI triages and minimizes it; more would be noise.
            if (crashed.Add(signature))
                AtomicFile.WriteAllBytes(Path.Combine(crashDir, $"id:{crashes++:D6},sig:{signature.Replace('/', '_').Replace(',', '_')},execs:{loop.Execs + 1}"), input);
            return true;
        }
        // Offers an input; writes it to queue/ when the loop kept it, named by the execution that
        // made it or the instance it came from.
        void Offer(byte[] input, string? syncedFrom = null)
        {
            int before = loop.QueueSize;
            loop.Offer(input, Execute);
            if (loop.QueueSize <= before) return;
            // Not flushed to disk: an entry lost to a power cut costs nothing, and an fsync per
            // entry cost seconds early in a run.
            AtomicFile.WriteAllBytes(Path.Combine(queueDir, $"id:{kept++:D6},{(syncedFrom is null ? $"execs:{loop.Execs}" : $"sync:{syncedFrom}")}"), input, durable: false);
        }
        var sync = new GuidedSync(outDir);
        void Import()
        {
            foreach (var (from, input) in sync.NewEntries()) Offer(PadToOps(input), from);
        }

        long maxExecs = long.TryParse(Environment.GetEnvironmentVariable(MaxExecsVariable), out var cap) ? cap : long.MaxValue;
        var clock = Stopwatch.StartNew();
        var nextStatus = TimeSpan.Zero;
        var nextSync = SyncEvery;
        foreach (var input in starts) loop.Offer(input, Execute);   // a start already in queue/ is kept again only if new here: not rewritten
        Import();
        while (clock.Elapsed.TotalSeconds < seconds && loop.Execs < maxExecs)
        {
            var input = loop.Next();
            Offer(input);
            if (clock.Elapsed >= nextSync)
            {
                Import();
                nextSync = clock.Elapsed + SyncEvery;
            }
            if (clock.Elapsed >= nextStatus)
            {
                Console.WriteLine($"guided: execs {loop.Execs} exec/s {loop.Execs / Math.Max(1e-3, clock.Elapsed.TotalSeconds):0} queue {loop.QueueSize} edges {loop.Edges} crashes {crashes}");
                nextStatus = clock.Elapsed + TimeSpan.FromSeconds(1);
            }
        }
        Console.WriteLine($"guided: done: execs {loop.Execs} queue {loop.QueueSize} edges {loop.Edges} crashes {crashes}");
        return 0;
    }

    static IEnumerable<byte[]> Files(string dir, string pattern) =>
        Directory.Exists(dir) ? Directory.GetFiles(dir, pattern).Order(StringComparer.Ordinal).Select(File.ReadAllBytes) : [];

    static byte[] PadToOps(byte[] input)
    {
        int length = Math.Min(ProgramDecoder.MaxInputBytes, (input.Length + ProgramDecoder.OpBytes - 1) / ProgramDecoder.OpBytes * ProgramDecoder.OpBytes);
        var padded = new byte[length];
        input.AsSpan(0, Math.Min(input.Length, length)).CopyTo(padded);
        return padded;
    }

    static IEnumerable<byte[]> Ops(byte[] input) => input.Chunk(ProgramDecoder.OpBytes);
}

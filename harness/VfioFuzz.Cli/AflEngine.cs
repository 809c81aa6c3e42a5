using System.Diagnostics;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.Cli;

/// <summary>
/// The coverage-guided engine: AFL++ (Debian's afl++) drives the SharpFuzz out-of-process
/// driver, whose Core and Targets assemblies are instrumented with the `sharpfuzz` dotnet tool
/// (local tool manifest). The instrumented build is cached under .vfio-fuzz/afl-build and
/// rebuilt when sources change. AFL++ keeps its own layout (queue/, crashes/, hangs/,
/// fuzzer_stats) under .vfio-fuzz/afl/&lt;target&gt;-&lt;profile&gt;-&lt;kernel&gt;; every input it saved as
/// a crash is re-run in-process and triaged (de-duplicated, minimized, saved).
/// </summary>
sealed class AflEngine(string repoRoot)
{
    string WorkDir => Path.Combine(repoRoot, ".vfio-fuzz");
    string BuildDir => Path.Combine(WorkDir, "afl-build");

    /// <summary>Makes sure afl-fuzz and the instrumented driver exist; null when ready, else the error.</summary>
    public string? Prepare()
    {
        if (!OnPath("afl-fuzz"))
        {
            bool canInstall = Environment.UserName == "root" && File.Exists("/etc/debian_version");
            if (!canInstall) return "afl-fuzz not found: install the Debian package afl++ (sudo apt-get install afl++)";
            Console.WriteLine("fuzz: installing afl++ (apt-get)");
            if (Exec("apt-get", "update -qq") != 0 || Exec("apt-get", "install -y -qq afl++") != 0 || !OnPath("afl-fuzz"))
                return "could not install the Debian package afl++ with apt-get";
        }
        string stamp = Path.Combine(BuildDir, "stamp");
        if (File.Exists(stamp) && !SourcesNewerThan(File.GetLastWriteTimeUtc(stamp))) return null;
        Console.WriteLine("fuzz: building and instrumenting the AFL++ driver (SharpFuzz)");
        if (Directory.Exists(BuildDir)) Directory.Delete(BuildDir, recursive: true);
        string project = Path.Combine(repoRoot, "harness", "VfioFuzz.AflDriver", "VfioFuzz.AflDriver.csproj");
        if (Exec("dotnet", $"publish \"{project}\" -c Release -o \"{BuildDir}\" --nologo -v quiet") != 0) return "dotnet publish of the AFL++ driver failed";
        if (Exec("dotnet", "tool restore", repoRoot) != 0) return "dotnet tool restore (sharpfuzz) failed";
        foreach (var asm in new[] { "VfioFuzz.Core.dll", "VfioFuzz.Targets.dll" })
            if (Exec("dotnet", $"sharpfuzz \"{Path.Combine(BuildDir, asm)}\"", repoRoot) != 0) return $"sharpfuzz could not instrument {asm}";
        File.WriteAllText(stamp, DateTime.UtcNow.ToString("O"));
        return null;
    }

    /// <summary>Runs afl-fuzz for the budget, printing its stats, then triages its crashes.</summary>
    public void Run(string targetId, Profile profile, TimeSpan budget, bool resume, FindingStore store, Triage triage,
        CancellationToken cancel)
    {
        string kernel = Profile.KernelName(profile.Kernel);
        string outDir = Path.Combine(WorkDir, "afl", $"{targetId}-{profile.Name}-{kernel}");
        string seeds = Path.Combine(WorkDir, "afl-seeds");
        WriteSeeds(seeds);
        bool canResume = resume && Directory.Exists(Path.Combine(outDir, "default", "queue"));
        var known = store.KnownSignatures(targetId);
        var psi = new ProcessStartInfo("afl-fuzz")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-i", canResume ? "-" : seeds, "-o", outDir, "-m", "none", "-t", "5000", "-V", ((int)Math.Max(1, budget.TotalSeconds)).ToString(),
                     "--", "dotnet", Path.Combine(BuildDir, "VfioFuzz.AflDriver.dll"), targetId, profile.Name, kernel, string.Join(",", known) })
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in new[] { ("AFL_SKIP_BIN_CHECK", "1"), ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"), ("AFL_SKIP_CPUFREQ", "1"), ("AFL_NO_UI", "1"), ("AFL_NO_AFFINITY", "1") })
            psi.Environment[k] = v;
        if (!canResume && Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        using var log = new StreamWriter(Path.Combine(outDir, "afl-fuzz.log"));
        using var afl = Process.Start(psi)!;
        afl.OutputDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        afl.ErrorDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        afl.BeginOutputReadLine();
        afl.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!afl.WaitForExit(5000))
        {
            if (cancel.IsCancellationRequested) { afl.Kill(); break; }
            Console.WriteLine($"[{targetId}] afl++ {Stats(outDir)} elapsed: {clock.Elapsed.TotalSeconds:0}s remaining: {Math.Max(0, (budget - clock.Elapsed).TotalSeconds):0}s");
        }
        Console.WriteLine($"[{targetId}] afl++ done: {Stats(outDir)} (log: {Path.Combine(outDir, "afl-fuzz.log")})");

        // Boot-time findings are not crashes to the driver; the empty program records them.
        triage.Consider(FuzzProgram.Empty);
        string crashes = Path.Combine(outDir, "default", "crashes");
        if (!Directory.Exists(crashes)) return;
        foreach (var file in Directory.GetFiles(crashes, "id:*").Order(StringComparer.Ordinal))
            triage.Consider(ProgramDecoder.Decode(File.ReadAllBytes(file), profile));
    }

    /// <summary>The progress numbers: corpus and crashes counted live from AFL++'s folders;
    /// execs from fuzzer_stats, which AFL++ rewrites only every minute.</summary>
    static string Stats(string outDir)
    {
        string Count(string sub) => Directory.Exists(Path.Combine(outDir, "default", sub))
            ? Directory.GetFiles(Path.Combine(outDir, "default", sub), "id:*").Length.ToString() : "0";
        string path = Path.Combine(outDir, "default", "fuzzer_stats");
        var stats = File.Exists(path)
            ? File.ReadAllLines(path).Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1].Trim())
            : [];
        string Get(string k) => stats.GetValueOrDefault(k, "?");
        return $"#{Get("execs_done")} exec/s: {Get("execs_per_sec")} (stats every 60s) corpus: {Count("queue")} crashes: {Count("crashes")} hangs: {Count("hangs")}";
    }

    /// <summary>Seeds are bug-free programs only (the acceptance test: find bugs from nothing):
    /// a NIC MEM toggle, and a DIMM plug/unplug.</summary>
    static void WriteSeeds(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "nic-mem-toggle"), [2, 1, 0, 0, 2, 1, 1, 0]);
        File.WriteAllBytes(Path.Combine(dir, "dimm-plug-unplug"), [0, 0, 0, 0, 1, 0, 0, 0]);
    }

    bool SourcesNewerThan(DateTime stampUtc) =>
        new[] { Path.Combine(repoRoot, "harness", "VfioFuzz.Core"), Path.Combine(repoRoot, "harness", "VfioFuzz.AflDriver"), Path.Combine(repoRoot, "targets") }
            .SelectMany(d => Directory.EnumerateFiles(d, "*.cs*", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Any(f => File.GetLastWriteTimeUtc(f) > stampUtc);

    static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    static int Exec(string file, string args, string? cwd = null)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = cwd ?? Environment.CurrentDirectory };
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }

    public static string? FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "VfioFuzz.sln"))) return dir.FullName;
        return null;
    }
}

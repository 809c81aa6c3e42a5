using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Programs;

namespace VfioFuzz.Cli;

/// <summary>
/// The instrumented fuzz driver the engines run: harness/VfioFuzz.FuzzDriver published to
/// .vfio-fuzz/driver-build with Core, Targets and the planted bugs instrumented by the `sharpfuzz` dotnet tool
/// (local tool manifest), or to .vfio-fuzz/driver-build-listener with Targets and the planted
/// bugs alone (<see cref="CoverageVariable"/>, or the engine's default when it is unset), plus
/// libfuzzer-bridge compiled with clang-14 when libFuzzer asks. Each build is rebuilt when the
/// sources are newer than its stamp. Also writes the engines' seed inputs from corpus/seeds.
/// </summary>
sealed class FuzzDriverBuild(string repoRoot, string defaultCoverage = FuzzDriverBuild.AllCode)
{
    public const string AllCode = "all", ListenerCode = "listener";

    public string WorkDir => Path.Combine(repoRoot, ".vfio-fuzz");

    // Set and valid, the variable wins; unset, the engine's default.
    readonly string _coverage = Environment.GetEnvironmentVariable(CoverageVariable) is { Length: > 0 } chosen ? chosen : defaultCoverage;

    string BuildDir => Path.Combine(WorkDir, _coverage == ListenerCode ? "driver-build-listener" : "driver-build");
    string DriverSources => Path.Combine(repoRoot, "harness", "VfioFuzz.FuzzDriver");

    public string DriverDll => Path.Combine(BuildDir, "VfioFuzz.FuzzDriver.dll");
    public string Bridge => Path.Combine(BuildDir, "libfuzzer-bridge");

    /// <summary>Null when the instrumented driver is ready, else the error.</summary>
    public string? PrepareDriver()
    {
        // Two campaigns started together (two terminals, two AFL++ sync boxes on one host) must
        // not rebuild the shared driver under each other: one builds, the other waits and reuses it.
        using var exclusive = Lock();
        string stamp = Path.Combine(BuildDir, "stamp");
        if (Instrumented() is not { } instrumented)
            return $"{CoverageVariable}={_coverage}: expected {AllCode} or {ListenerCode}";
        string built = string.Join(' ', instrumented);
        if (File.Exists(stamp) && File.ReadAllText(stamp) == built && !SourcesNewerThan(File.GetLastWriteTimeUtc(stamp))) return null;
        Console.WriteLine("fuzz: building and instrumenting the fuzz driver (SharpFuzz)");
        if (Directory.Exists(BuildDir)) Directory.Delete(BuildDir, recursive: true);
        string project = Path.Combine(DriverSources, "VfioFuzz.FuzzDriver.csproj");
        if (DebianTool.Exec("dotnet", $"publish \"{project}\" -c Release -o \"{BuildDir}\" --nologo -v quiet") != 0) return "dotnet publish of the fuzz driver failed";
        if (DebianTool.Exec("dotnet", "tool restore", repoRoot) != 0) return "dotnet tool restore (sharpfuzz) failed";
        foreach (var asm in instrumented)
            if (DebianTool.Exec("dotnet", $"sharpfuzz \"{Path.Combine(BuildDir, asm)}\"", repoRoot) != 0) return $"sharpfuzz could not instrument {asm}";
        File.WriteAllText(stamp, built);
        return null;
    }

    /// <summary>Names which code's branches are the engines' coverage: <c>all</c> (the harness's
    /// Core too: World, oracles, the simulated kernel, FlatView and the decoder; AFL++'s and
    /// libFuzzer's default) or <c>listener</c> (the listener models of targets/ and the planted
    /// bugs alone; the guided engine's default).</summary>
    public const string CoverageVariable = "VFIO_FUZZ_COVERAGE";

    /// <summary>The assemblies SharpFuzz instruments, as <see cref="CoverageVariable"/> says;
    /// null for a value it does not know.</summary>
    string[]? Instrumented() => _coverage switch
    {
        AllCode => ["VfioFuzz.Core.dll", "VfioFuzz.Targets.dll", "VfioFuzz.PlantedBugs.dll"],
        ListenerCode => ["VfioFuzz.Targets.dll", "VfioFuzz.PlantedBugs.dll"],
        _ => null,
    };

    /// <summary>Null when libfuzzer-bridge is built (after the driver), else the error.</summary>
    public string? PrepareBridge()
    {
        // libFuzzer itself is the static runtime in libclang-rt-14-dev.
        static bool Present() => DebianTool.OnPath("clang-14") && Directory.Exists("/usr/lib/llvm-14/lib/clang") &&
            Directory.EnumerateFiles("/usr/lib/llvm-14/lib/clang", "libclang_rt.fuzzer-x86_64.a", SearchOption.AllDirectories).Any();
        if (DebianTool.Ensure("clang-14 with libFuzzer", Present, "clang-14", "libclang-rt-14-dev") is { } error) return error;
        return BuildNative(Bridge, "libfuzzer-bridge.c", "clang-14", "-fsanitize=fuzzer",
            "clang-14 -fsanitize=fuzzer could not build libfuzzer-bridge (is libclang-rt-14-dev installed?)");
    }

    /// <summary>AFL++'s custom mutator (op-mutator.c, AFL_CUSTOM_MUTATOR_LIBRARY): null when
    /// built (after the driver; afl++ brings cc), else the error.</summary>
    public string? PrepareMutator() =>
        BuildNative(Mutator, "op-mutator.c", "cc", "-shared -fPIC", "cc could not build the AFL++ op mutator (op-mutator.c)");

    public string Mutator => Path.Combine(BuildDir, "op-mutator.so");

    /// <summary>Compiles one C file of the driver's folder (with op-mutator.h, and the decoder's
    /// op size and input limit, so the C side cannot drift from it) unless the output is newer
    /// than both; null when done, else <paramref name="error"/>.</summary>
    string? BuildNative(string output, string sourceName, string compiler, string flags, string error)
    {
        using var exclusive = Lock();
        string source = Path.Combine(DriverSources, sourceName), header = Path.Combine(DriverSources, "op-mutator.h");
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) > new[] { source, header }.Max(File.GetLastWriteTimeUtc)) return null;
        string defines = $"-DOP_BYTES={ProgramDecoder.OpBytes} -DMAX_INPUT={ProgramDecoder.MaxInputBytes}";
        return DebianTool.Exec(compiler, $"-O2 -Wall -Werror {flags} {defines} -o \"{output}\" \"{source}\"") == 0 ? null : error;
    }

    /// <summary>An exclusive lock on the build folder, held until disposed (a file opened with no
    /// sharing; the kernel releases it if this process dies).</summary>
    FileStream Lock()
    {
        Directory.CreateDirectory(WorkDir);
        string path = Path.Combine(WorkDir, "driver-build.lock");
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); ; Thread.Sleep(250))
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (waited.Elapsed < TimeSpan.FromMinutes(15)) { }
        }
    }

    /// <summary>Writes the byte form of every corpus/seeds entry that has one on this profile
    /// into <paramref name="dir"/>, and beside it (dir.dict) the dictionary of the 4-byte ops
    /// they are made of, so the engine can insert and overwrite whole ops instead of bytes
    /// that shift every op after them (AFL++ -x, libFuzzer -dict=); returns how many seeds and
    /// the dictionary's path (null when the seeds hold no op). Seeds are bug-free programs
    /// only: the engines must find bugs from nothing.</summary>
    public (int Count, string? Dictionary) WriteSeeds(string dir, Profile profile)
    {
        Directory.CreateDirectory(dir);
        foreach (var old in Directory.GetFiles(dir)) File.Delete(old);
        string seedsDir = Path.Combine(repoRoot, "corpus", "seeds");
        var seeds = SeedInputs.For(seedsDir, profile);
        foreach (var seed in seeds) File.WriteAllBytes(Path.Combine(dir, seed.Id), seed.Bytes);
        // An engine needs one input to start from: the empty program is always bug-free.
        if (seeds.Count == 0) File.WriteAllBytes(Path.Combine(dir, "empty"), []);
        string dictionary = dir.TrimEnd(Path.DirectorySeparatorChar) + ".dict";
        return (Math.Max(seeds.Count, 1), SeedInputs.WriteDictionary(dictionary, seeds, seedsDir) > 0 ? dictionary : null);
    }

    bool SourcesNewerThan(DateTime stampUtc) =>
        new[] { Path.Combine(repoRoot, "harness", "VfioFuzz.Core"), DriverSources, Path.Combine(repoRoot, "targets"), Path.Combine(repoRoot, "harness", "VfioFuzz.PlantedBugs") }
            .SelectMany(d => Directory.EnumerateFiles(d, "*.cs*", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Any(f => File.GetLastWriteTimeUtc(f) > stampUtc);

    public static string? FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "VfioFuzz.sln"))) return dir.FullName;
        return null;
    }
}

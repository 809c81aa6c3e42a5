using VfioFuzz.Listener;
using VfioFuzz.Targets;

namespace VfioFuzz.Tests;

/// <summary>Where the repository is (tests run from bin/), the settings fuzz.runsettings
/// passes in, and the target catalog.</summary>
static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Corpus => Path.Combine(Root, Environment.GetEnvironmentVariable("VFIO_FUZZ_CORPUS") ?? "corpus");

    public static int PropertyIterations =>
        int.TryParse(Environment.GetEnvironmentVariable("VFIO_FUZZ_PROPERTY_ITERATIONS"), out var n) ? n : 500;

    /// <summary>Programs per fuzz smoke campaign (runsettings VFIO_FUZZ_SMOKE_EXECS).</summary>
    public static long SmokeExecs =>
        long.TryParse(Environment.GetEnvironmentVariable("VFIO_FUZZ_SMOKE_EXECS"), out var n) ? n : 5000;

    /// <summary>The CLI built beside the tests (same configuration), for tests that run it as a process.</summary>
    public static string CliDll { get; } = Path.Combine(Root, "harness", "VfioFuzz.Cli", "bin",
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release", "net10.0", "vfio-fuzz.dll");

    public static TargetCatalog Catalog { get; } = new(typeof(Qemu110).Assembly);

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "VfioFuzz.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find VfioFuzz.sln above the test binaries");
    }
}

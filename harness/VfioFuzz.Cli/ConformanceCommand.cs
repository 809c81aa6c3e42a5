using System.CommandLine;
using VfioFuzz.Cassettes;
using VfioFuzz.Conformance;
using VfioFuzz.Yaml;

namespace VfioFuzz.Cli;

/// <summary>`conformance`: holds the simulators to recordings made on a real kernel (by the
/// kernel lab, harness/lab/run): the iommufd IOAS to a conformance cassette, the type1
/// container to a type1 conformance recording; every case, call by call.</summary>
static class ConformanceCommand
{
    public static Command Create()
    {
        var cassette = new Option<string>("--cassette") { Description = "an iommufd conformance cassette", DefaultValueFactory = _ => "corpus/cassettes/conformance.yaml" };
        var type1 = new Option<string>("--type1") { Description = "a type1 conformance recording (harness/lab/run realqemu makes it)", DefaultValueFactory = _ => "corpus/cassettes/type1/conformance.yaml" };
        var cmd = new Command("conformance", "Compare the simulated IOAS and type1 container with a real kernel's recorded answers") { cassette, type1 };
        cmd.SetAction(r => Run(r.GetValue(cassette)!, r.GetValue(type1)!));
        return cmd;
    }

    static int Run(string path, string type1Path)
    {
        // A bad recording is an input error (ExitContract), checked before anything is compared.
        var cassette = CassetteFile.Load(path);
        var type1 = Type1RecordingFile.Load(type1Path);
        var differences = ConformanceSuite.Compare(cassette, ConformanceSuite.FlavorOf(cassette.Kernel));
        foreach (var d in differences) Console.WriteLine($"DIFFERS {d}");
        Console.WriteLine(ConformanceSuite.Summary(differences, $"{cassette.Backend} on kernel {cassette.Kernel} (recorded {cassette.Recorded})"));
        var type1Differences = Type1Conformance.Compare(type1);
        foreach (var d in type1Differences) Console.WriteLine($"DIFFERS type1 {d}");
        Console.WriteLine(Type1Conformance.Summary(type1Differences, $"{type1.Container} on kernel {type1.Kernel} (recorded {type1.Recorded})"));
        return differences.Count == 0 && type1Differences.Count == 0 ? Cli.Ok : Cli.Findings;
    }
}

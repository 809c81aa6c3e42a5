using System.CommandLine;
using VfioFuzz.Cassettes;
using VfioFuzz.Conformance;
using VfioFuzz.Yaml;

namespace VfioFuzz.Cli;

/// <summary>`conformance`: holds the simulator to a conformance cassette recorded on a real
/// kernel (by the kernel lab, harness/lab/run): every case, call by call.</summary>
static class ConformanceCommand
{
    public static Command Create()
    {
        var cassette = new Option<string>("--cassette") { Description = "a conformance cassette", DefaultValueFactory = _ => "corpus/cassettes/conformance.yaml" };
        var cmd = new Command("conformance", "Compare the simulated IOAS with a real kernel's recorded answers") { cassette };
        cmd.SetAction(r => Run(r.GetValue(cassette)!));
        return cmd;
    }

    static int Run(string path)
    {
        var cassette = CassetteFile.Load(path);   // a bad cassette is an input error (ExitContract)
        var differences = ConformanceSuite.Compare(cassette, ConformanceSuite.FlavorOf(cassette.Kernel));
        foreach (var d in differences) Console.WriteLine($"DIFFERS {d}");
        Console.WriteLine(ConformanceSuite.Summary(differences, $"{cassette.Backend} on kernel {cassette.Kernel} (recorded {cassette.Recorded})"));
        return differences.Count == 0 ? Cli.Ok : Cli.Findings;
    }
}

using System.CommandLine;
using VfioFuzz.Cassettes;
using VfioFuzz.Conformance;
using VfioFuzz.Type1;
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
        var compat = new Option<string>("--type1-compat") { Description = "a type1 conformance recording of iommufd's VFIO compatibility layer (harness/lab/run makes it)", DefaultValueFactory = _ => "corpus/cassettes/type1/iommufd-compat.yaml" };
        var cmd = new Command("conformance", "Compare the simulated IOAS and type1 containers with a real kernel's recorded answers") { cassette, type1, compat };
        cmd.SetAction(r => Run(r.GetValue(cassette)!, r.GetValue(type1)!, r.GetValue(compat)!));
        return cmd;
    }

    static int Run(string path, string type1Path, string compatPath)
    {
        // A bad recording is an input error (ExitContract), checked before anything is compared.
        var cassette = CassetteFile.Load(path);
        var type1 = Type1RecordingFile.Load(type1Path);
        var compat = Type1RecordingFile.Load(compatPath);
        var differences = ConformanceSuite.Compare(cassette, ConformanceSuite.FlavorOf(cassette.Kernel));
        foreach (var d in differences) Console.WriteLine($"DIFFERS {d}");
        Console.WriteLine(ConformanceSuite.Summary(differences, $"{cassette.Backend} on kernel {cassette.Kernel} (recorded {cassette.Recorded})"));
        int type1Differing = 0;
        foreach (var recording in new[] { type1, compat })
        {
            var type1Differences = Type1Conformance.Compare(recording);
            foreach (var d in type1Differences) Console.WriteLine($"DIFFERS type1 ({recording.ServedBy.Name()}) {d}");
            Console.WriteLine(Type1Conformance.Summary(type1Differences, $"{recording.Container} on kernel {recording.Kernel} (recorded {recording.Recorded})"));
            type1Differing += type1Differences.Count;
        }
        return differences.Count == 0 && type1Differing == 0 ? Cli.Ok : Cli.Findings;
    }
}

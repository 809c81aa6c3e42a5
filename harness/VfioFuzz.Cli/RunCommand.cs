using System.CommandLine;
using VfioFuzz.Cassettes;
using VfioFuzz.Corpus;
using VfioFuzz.Reports;
using VfioFuzz.Running;
using VfioFuzz.Yaml;

namespace VfioFuzz.Cli;

/// <summary>`run`: one corpus entry on one target, printing the QEMU-format trace and the
/// findings: what a maintainer reads when a reproducer fails.</summary>
static class RunCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("entry") { Description = "a corpus entry (YAML)" };
        var target = new Option<string>("--target") { Description = "target id", Required = true };
        var backend = BackendOption.Create(", or replay:CASSETTE (answers from the cassette's session for this target)");
        var differential = BackendOption.CreateDifferential();
        var container = ContainerOption.Create(entries: true);
        var cmd = new Command("run", "Run one corpus entry on one target and print its trace and findings") { file, target, backend, differential, container };
        cmd.SetAction(r => Run(r.GetValue(file)!, r.GetValue(target)!, r.GetValue(backend)!, r.GetValue(differential), r.GetValue(container)));
        return cmd;
    }

    static int Run(string file, string targetId, string backend, bool differential, string? containerSpec)
    {
        if (!ContainerOption.TryParse(containerSpec, null, out var container, out var containerError)) return Cli.Fail(containerError!);
        CorpusEntry entry;
        RunResult result;
        try
        {
            Cli.Catalog.Select(targetId);
            entry = CorpusFile.Load(file);
            if (backend.StartsWith("replay:", StringComparison.Ordinal))
                result = CassetteReplay.Run(CassetteFile.Load(backend["replay:".Length..]), entry, Cli.Catalog, targetId, trace: true);
            else if (BackendOption.TryCreate(backend, differential, out var chosen, out var error))
                result = new ProgramRunner(entry.Profile, () => Cli.Catalog.Create(targetId), chosen!.Options(trace: true, container ?? entry.Container)).Run(entry.Program);
            else return Cli.Fail(error!);
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }   // input errors of the files: ExitContract
        foreach (var line in result.Trace) Console.WriteLine(line);
        Console.WriteLine();
        foreach (var f in result.Findings)
        {
            Console.WriteLine($"FINDING {f.Signature} at step {ReportWriter.StepName(f.Step, entry.Program.Ops.Length)}: {f.Summary}");
            Console.WriteLine($"  effect: {f.Effect}");
        }
        Console.WriteLine(result.Clean ? "no findings" : $"{result.Findings.Count} finding(s)");
        return result.Clean ? Cli.Ok : Cli.Findings;
    }
}

using System.CommandLine;
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
        var cmd = new Command("run", "Run one corpus entry on one target and print its trace and findings") { file, target };
        cmd.SetAction(r => Run(r.GetValue(file)!, r.GetValue(target)!));
        return cmd;
    }

    static int Run(string file, string targetId)
    {
        CorpusEntry entry;
        try
        {
            Cli.Catalog.Select(targetId);
            entry = CorpusFile.Load(file);
        }
        catch (Exception e) when (e is YamlFormatException or ArgumentException) { return Cli.Fail(e.Message); }
        var result = new ProgramRunner(entry.Profile, () => Cli.Catalog.Create(targetId), new RunOptions(Trace: true)).Run(entry.Program);
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

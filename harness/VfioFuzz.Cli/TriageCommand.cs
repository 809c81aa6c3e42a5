using System.CommandLine;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Reports;
using VfioFuzz.Running;

namespace VfioFuzz.Cli;

/// <summary>
/// `triage`: crash inputs an engine saved elsewhere (a ClusterFuzzLite batch run, an AFL++ sync
/// box, a libFuzzer artifact) through the same triage as a campaign: re-run in-process,
/// de-duplicated by signature, minimized and saved into the finding store. Exit 1 when a
/// signature was new, 0 when every one was known, 2 on bad input.
/// </summary>
static class TriageCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs") { Description = "crash files or folders of them (raw engine inputs)", Arity = ArgumentArity.OneOrMore };
        var target = new Option<string>("--target") { Description = "the target the inputs crashed", Required = true };
        var profile = new Option<string>("--profile") { Description = $"the platform: {string.Join(", ", Profile.BuiltIn.Select(p => p.Name))}", DefaultValueFactory = _ => "vr-cxl-type2" };
        var kernel = new Option<string?>("--kernel") { Description = "dmabuf or no-dmabuf (default: the profile's)" };
        var findings = new Option<string>("--findings") { Description = "where minimized reproducers go", DefaultValueFactory = _ => "corpus/findings" };
        var cmd = new Command("triage", "Triage engine crash inputs into minimized reproducers in the finding store") { inputs, target, profile, kernel, findings };
        cmd.SetAction(r => Run(r.GetValue(inputs)!, r.GetValue(target)!, r.GetValue(profile)!, r.GetValue(kernel), r.GetValue(findings)!));
        return cmd;
    }

    static int Run(string[] inputs, string targetId, string profileName, string? kernel, string findingsDir)
    {
        Profile profile;
        try
        {
            Cli.Catalog.Select(targetId);
            profile = Profile.Resolve(profileName, kernel);
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input)) files.AddRange(Directory.EnumerateFiles(input).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal));
            else if (InputFile.Problem(input) is { } problem) return Cli.Fail(problem);
            else files.Add(input);
        }
        OutputFolder.EnsureWritable(findingsDir, "--findings");
        var triage = new Triage(profile, targetId, new ProgramRunner(profile, () => Cli.Catalog.Create(targetId)), new FindingStore(findingsDir, Cli.Catalog), "external")
        {
            Recorded = f => Console.WriteLine($"[{targetId}] {(f.Known ? "known" : "NEW  ")} {f.Finding.Signature} ({f.Minimized.Ops.Length} ops) {f.ReproducerPath}"),
        };
        triage.Consider(FuzzProgram.Empty);   // boot-time findings are every input's: recorded once
        foreach (var file in files) triage.Consider(ProgramDecoder.Decode(InputFile.ReadAllBytes(file), profile));
        Console.WriteLine($"triage: {files.Count} input(s), {triage.Findings.Count(f => !f.Known)} new and {triage.Findings.Count(f => f.Known)} known signature(s)");
        return triage.Findings.Any(f => !f.Known) ? Cli.Findings : Cli.Ok;
    }
}

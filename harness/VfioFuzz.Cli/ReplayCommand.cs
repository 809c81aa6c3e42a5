using System.CommandLine;
using VfioFuzz.Corpus;
using VfioFuzz.Listener;
using VfioFuzz.Reports;
using VfioFuzz.Running;
using VfioFuzz.Yaml;

namespace VfioFuzz.Cli;

/// <summary>`replay`: every corpus entry on every target, a pass/fail matrix against each
/// entry's expectations, one report per target.</summary>
static class ReplayCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "corpus files or folders (default: corpus)", Arity = ArgumentArity.ZeroOrMore };
        var target = new Option<string>("--target") { Description = "target id, comma-separated ids, or all", DefaultValueFactory = _ => "all" };
        var reports = new Option<string>("--reports") { Description = "where to write the YAML reports", DefaultValueFactory = _ => "reports" };
        var backend = BackendOption.Create();
        var container = ContainerOption.Create(entries: true);
        var onlyListed = new Option<bool>("--only-listed") { Description = "judge only the targets an entry lists in expect: (others are shown, not judged)" };
        var cmd = new Command("replay", "Run corpus entries against targets and print a matrix against their expectations, and of unlisted targets against their base") { paths, target, reports, backend, container, onlyListed };
        cmd.SetAction(r => Run(r.GetValue(paths) is { Length: > 0 } p ? p : ["corpus"], r.GetValue(target)!, r.GetValue(reports)!, r.GetValue(backend)!,
            r.GetValue(container), r.GetValue(onlyListed)));
        return cmd;
    }

    static int Run(string[] paths, string targetSpec, string reportsDir, string backend, string? containerSpec, bool onlyListed)
    {
        if (!ContainerOption.TryParse(containerSpec, null, out var container, out var containerError)) return Cli.Fail(containerError!);
        if (!BackendOption.TryCreate(backend, differential: false, out var chosen, out var error)) return Cli.Fail(error!);
        OutputFolder.EnsureWritable(reportsDir, "--reports");
        IReadOnlyList<string> targetIds;
        List<string> files;
        try
        {
            targetIds = Cli.Catalog.Select(targetSpec);
            files = paths.SelectMany(CorpusFile.Find).ToList();
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException)
        {
            return Cli.Fail(e.Message);
        }
        // A file that does not load (a hand-edited finding, a truncated copy) is named on its
        // own line and the rest still replays; the exit code then says input error.
        var known = Cli.Catalog.Targets.Select(t => t.Id).ToArray();
        List<CorpusEntry> entries = [];
        int unreadable = 0;
        foreach (var file in files)
        {
            try { entries.Add(CorpusFile.Load(file, known)); }
            catch (InputException e)
            {
                Cli.Fail(e.Message);
                unreadable++;
            }
        }
        if (entries.Count == 0) return Cli.Fail($"no corpus entries (*.yaml) that load under {string.Join(", ", paths)}");

        // A target an entry does not list is held to its base: the tree before the pick that
        // introduced it (patches-under-test/*/series.yaml), or upstream.
        var bases = onlyListed ? null : TargetBases.Load("patches-under-test");
        var cells = CorpusReplay.Run(entries, Cli.Catalog, targetIds, chosen!.Options(trace: true), bases, container);
        PrintMatrix(entries, targetIds, cells);

        string runId = RunIds.Claim(reportsDir, RunIds.Stamp("replay"));
        foreach (var id in targetIds)
            ReportWriter.Write(reportsDir, runId, "replay", Cli.Catalog.Info(id), chosen.Describe(), seed: null, cells.Where(c => c.Target.Id == id), container: container?.Name() ?? "per entry");
        Console.WriteLine($"reports: {Path.Combine(reportsDir, runId)}/");
        if (unreadable > 0) return Cli.Fail($"{unreadable} corpus file(s) could not be loaded (named above); the other {entries.Count} were replayed");
        return cells.Any(c => c.AsExpected == false) ? Cli.Findings : Cli.Ok;
    }

    static void PrintMatrix(List<CorpusEntry> entries, IReadOnlyList<string> targetIds, IReadOnlyList<ReplayCell> cells)
    {
        int first = Math.Max(5, entries.Max(e => e.Id.Length)) + 2;
        var widths = targetIds.Select(t => Math.Max(t.Length, 13) + 2).ToArray();
        Console.Write("entry".PadRight(first));
        for (int i = 0; i < targetIds.Count; i++) Console.Write(targetIds[i].PadRight(widths[i]));
        Console.WriteLine();
        foreach (var entry in entries)
        {
            Console.Write(entry.Id.PadRight(first));
            for (int i = 0; i < targetIds.Count; i++)
            {
                var cell = cells.First(c => c.Entry == entry && c.Target.Id == targetIds[i]);
                string mark = cell.Listed
                    ? (cell.AsExpected == true ? "ok" : "UNEXPECTED")
                    : cell.BaseId is null ? "-" : cell.New.Count > 0 ? "NEW" : cell.Fixed.Count > 0 ? "FIXED" : "same";
                string verdict = cell.Result.Clean ? "pass" : $"{cell.Result.Findings.Count}F";
                Console.Write($"{mark} {verdict}".PadRight(widths[i]));
            }
            Console.WriteLine();
        }
        Console.WriteLine("(ok/UNEXPECTED: against the entry's expectation; for a target it does not list, against the target's base: " +
                          "same, NEW = signatures the base lacks (unexpected), FIXED = the base's signatures gone; - not judged; " +
                          "pass = no findings, nF = n distinct findings)");
        foreach (var cell in cells.Where(c => c.Listed && c.AsExpected == false))
        {
            Console.WriteLine($"UNEXPECTED {cell.Entry.Id} on {cell.Target.Id} ({cell.Entry.Path}):");
            Console.WriteLine($"  expected: {Describe(cell.Entry.Expect[cell.Target.Id])}");
            Console.WriteLine($"  got:      {Describe(cell.Result.Signatures)}");
        }
        foreach (var cell in cells.Where(c => c.New.Count > 0 || c.Fixed.Count > 0))
        {
            string what = cell.New.Count > 0 ? "NEW" : "FIXED";
            Console.WriteLine($"{what} {cell.Entry.Id} on {cell.Target.Id} against its base {cell.BaseId} ({cell.Entry.Path}):");
            if (cell.New.Count > 0) Console.WriteLine($"  new:   {Describe(cell.New)}");
            if (cell.Fixed.Count > 0) Console.WriteLine($"  fixed: {Describe(cell.Fixed)}");
        }
        int judged = cells.Count(c => c.AsExpected is not null), bad = cells.Count(c => c.AsExpected == false);
        int novel = cells.Count(c => c.New.Count > 0), fixedCells = cells.Count(c => c.New.Count == 0 && c.Fixed.Count > 0);
        Console.WriteLine($"{judged - bad} as expected, {bad} unexpected ({novel} NEW against a base), {fixedCells} FIXED, " +
                          $"{cells.Count - judged} not judged ({entries.Count} entries x {targetIds.Count} targets)");
    }

    static string Describe(IEnumerable<string> signatures)
    {
        var list = signatures.Order(StringComparer.Ordinal).ToArray();
        return list.Length == 0 ? "pass" : string.Join(", ", list);
    }
}

using System.CommandLine;
using VfioFuzz.Corpus;
using VfioFuzz.Gate;
using VfioFuzz.Yaml;

namespace VfioFuzz.Cli;

/// <summary>`bisect`: the first commit of a series at which a corpus entry's verdict changes,
/// with the log of steps, like `git bisect run`.</summary>
static class BisectCommand
{
    public static Command Create()
    {
        var series = new Option<string>("--series") { Description = "patches-under-test/<branch>/series.yaml", Required = true };
        var entry = new Option<string>("--entry") { Description = "the corpus entry that is the test", Required = true };
        var good = new Option<string?>("--good") { Description = "a commit where the entry is good (default: base, the branch point)" };
        var bad = new Option<string?>("--bad") { Description = "a commit where it is bad (default: the last commit)" };
        var signature = new Option<string?>("--signature") { Description = "bad = shows this signature (default: findings differ from the good commit's)" };
        var cmd = new Command("bisect", "Find the first commit of a series where a corpus entry's verdict changes") { series, entry, good, bad, signature };
        cmd.SetAction(r => Run(r.GetValue(series)!, r.GetValue(entry)!, r.GetValue(good), r.GetValue(bad), r.GetValue(signature)));
        return cmd;
    }

    static int Run(string seriesPath, string entryPath, string? good, string? bad, string? signature)
    {
        // A bad series, entry or good/bad pair is an input error (ExitContract).
        var result = Bisect.Run(Series.Load(seriesPath), CorpusFile.Load(entryPath, Cli.Catalog.Targets.Select(t => t.Id).ToArray()),
            Cli.Catalog, good, bad, signature);

        Console.WriteLine($"bisect: good {result.Good}, bad {result.Bad}{(signature is null ? "" : $", bad = shows {signature}")}");
        foreach (var step in result.Steps)
            Console.WriteLine($"  {(step.Commit is null ? "base        " : step.Commit.Short)} [{step.Target}] {(step.Bad ? "bad " : "good")}: {Bisect.Describe(step)}");
        var first = result.FirstBad!;
        Console.WriteLine($"{first.Sha} is the first bad commit");
        Console.WriteLine($"    {first.Subject}");
        Console.WriteLine(first.IsProposal
            ? $"    (a proposal, picked from no commit; tree modelled by {first.Target})"
            : $"    (cherry picked from {first.UpstreamSha} {first.UpstreamBranch}; tree modelled by {first.Target})");
        return Cli.Ok;
    }
}

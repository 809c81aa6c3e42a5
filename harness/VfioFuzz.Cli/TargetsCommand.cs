using System.CommandLine;

namespace VfioFuzz.Cli;

/// <summary>`targets`: the listener models this build knows, with branch and patch SHAs.</summary>
static class TargetsCommand
{
    public static Command Create()
    {
        var ids = new Option<bool>("--ids") { Description = "only the target ids, one per line (for scripts)" };
        var cmd = new Command("targets", "List the listener targets (one per patch state)") { ids };
        cmd.SetAction(r =>
        {
            if (r.GetValue(ids))
            {
                foreach (var t in Cli.Catalog.Targets) Console.WriteLine(t.Id);
                return Cli.Ok;
            }
            Console.WriteLine($"{"target",-22} {"kind",-9} {"branch",-20} {"patches (as published)",-40} models");
            foreach (var t in Cli.Catalog.Targets)
                Console.WriteLine($"{t.Id,-22} {t.KindName,-9} {t.Branch,-20} {string.Join(" ", t.Patches),-40} {t.Summary}\n{"",-22} {"",-9} from: {t.Provenance}");
            return Cli.Ok;
        });
        return cmd;
    }
}

using System.CommandLine;
using VfioFuzz.Reports;
using VfioFuzz.Traces;

namespace VfioFuzz.Cli;

/// <summary>
/// `import-trace`: reads a QEMU `-trace` log in any of the shapes people paste it in, prints
/// what it understood, runs the oracles over the recorded DMA stream, saves the import as
/// YAML, and with --target holds a listener model to the recording call by call.
/// </summary>
static class ImportTraceCommand
{
    public static Command Create()
    {
        var log = new Argument<string>("log") { Description = "a QEMU trace log (-trace 'vfio_*' -trace 'iommufd_backend_*', log backend)" };
        var output = new Option<string?>("--out") { Description = "where to save the import (default: corpus/traces/<log name>.yaml)" };
        var target = new Option<string?>("--target") { Description = "also feed the recorded listener events to this target and compare its calls with the recorded ones" };
        var pageSize = new Option<ulong>("--host-page-size") { Description = "the recording host's page size, for the target model", DefaultValueFactory = _ => 4096 };
        var cmd = new Command("import-trace", "Import a QEMU trace log, check the recorded DMA stream, and compare a listener model with it") { log, output, target, pageSize };
        cmd.SetAction(r => Run(r.GetValue(log)!, r.GetValue(output), r.GetValue(target), r.GetValue(pageSize)));
        return cmd;
    }

    static int Run(string log, string? output, string? targetId, ulong pageSize)
    {
        if (targetId is not null)
        {
            try { Cli.Catalog.Select(targetId); }
            catch (ArgumentException e) { return Cli.Fail(e.Message); }
        }
        string path = output ?? Path.Combine("corpus", "traces", Path.GetFileNameWithoutExtension(log) + ".yaml");
        OutputFolder.EnsureWritableFile(path, "--out");
        var trace = ImportedTrace.From(log);   // an unreadable log is an input error (ExitContract)

        Console.WriteLine($"{log}: {trace.Read.LinesRead} lines, {trace.Read.Events.Count} events understood, {trace.Read.LinesSkipped} lines skipped (not trace events)");
        foreach (var (kind, n) in trace.ByKind) Console.WriteLine($"  {n,6}  {kind}");
        // Nothing is dropped silently: events in an unknown format are read leniently and named,
        // and vfio_/iommufd_ events the checks do not use are listed with their lines.
        foreach (var l in trace.Events.OfType<LenientEvent>())
            Console.WriteLine($"  line {l.Line}: {l.Name} in a format not known here, read leniently: " +
                $"{string.Join(", ", l.Hex.Select(h => $"0x{h:x}").Concat(l.Names.Select(n => $"\"{n}\"")).Concat(l.Fd is { } fd ? [$"fd {fd}"] : []))}");
        foreach (var g in trace.Read.OtherEvents.GroupBy(e => e.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            Console.WriteLine($"  {g.Count(),6}  {g.Key} (not used by the checks; line{(g.Count() > 1 ? "s" : "")} {string.Join(", ", g.Take(5).Select(e => e.Line))}{(g.Count() > 5 ? ", ..." : "")})");
        foreach (var f in trace.Findings)
            Console.WriteLine($"FINDING {f.Signature} (lines {string.Join(", ", f.Lines)}): {f.Summary}");
        if (trace.Findings.Count == 0) Console.WriteLine("the recorded DMA stream passes every check");

        trace.Save(path);
        Console.WriteLine($"saved: {path}");

        bool diverged = false;
        if (targetId is not null)
        {
            var divergence = TraceConformance.Compare(trace.Events, Cli.Catalog.Create(targetId), pageSize);
            if (divergence is null)
                Console.WriteLine($"{targetId}: reproduces every recorded backend call under the listener events");
            else
            {
                diverged = true;
                Console.WriteLine($"{targetId}: DIVERGES at line {divergence.Line} ({divergence.Event})");
                Console.WriteLine($"  recorded: {(divergence.Recorded.Count == 0 ? "no backend call" : string.Join("; ", divergence.Recorded))}");
                Console.WriteLine($"  model:    {(divergence.Model.Count == 0 ? "no backend call" : string.Join("; ", divergence.Model))}");
            }
        }
        return trace.Findings.Count > 0 || diverged ? Cli.Findings : Cli.Ok;
    }
}

using System.CommandLine;
using VfioFuzz.Corpus;
using VfioFuzz.Machine;
using VfioFuzz.RealQemu;

namespace VfioFuzz.Cli;

/// <summary>`realqemu`: holds the World and a listener model to QEMU's own code. Each program
/// of a nested machine's profile is compared, op by op, with its recording of real QEMU
/// (the lab's nested QEMU 7.2 and its type1 container; harness/lab/run realqemu records them):
/// the sections the listener saw and the container calls it made; on the machine whose
/// container has an IOMMU domain (q35-edu), also the DMA probes the lab made through the IOMMU
/// after each op (NAME.probes), against what the model holds then.</summary>
static class RealQemuCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "programs of profile q35-mbochs or q35-edu, each with its recording beside it (NAME.log; for q35-edu also NAME.probes)", Arity = ArgumentArity.ZeroOrMore };
        var target = new Option<string>("--target") { Description = "the listener model to compare (the nested QEMU is 7.2)", DefaultValueFactory = _ => "qemu-7.2" };
        var cmd = new Command("realqemu", "Compare real QEMU's recorded listener, op by op, with the World and a listener model") { paths, target };
        cmd.SetAction(r => Run(r.GetValue(paths) is { Length: > 0 } p ? p : ["corpus/realqemu"], r.GetValue(target)!));
        return cmd;
    }

    static int Run(string[] paths, string targetId)
    {
        var catalog = Cli.Catalog;
        catalog.Create(targetId);   // an unknown id is an input error before any work
        int diverged = 0, judged = 0;
        IReadOnlyList<string> files;
        try { files = [.. paths.SelectMany(CorpusFile.Find)]; }
        catch (FileNotFoundException e) { return Cli.Fail(e.Message); }
        foreach (var path in files)
        {
            var entry = CorpusFile.Load(path);
            var machine = NestedMachine.Of(entry.Profile);
            if (machine is null) continue;
            string log = RealQemuComparison.RecordingOf(path);
            if (!File.Exists(log)) throw new Traces.TraceFormatException($"{path}: no recording of real QEMU beside it ({log}); harness/lab/run realqemu records one");
            var (nested, divergence) = RealQemuComparison.Judge(entry, log, () => catalog.Create(targetId));
            judged++;
            string skipped = nested.Skipped.Count == 0 ? "" : $", {nested.Skipped.Count} op(s) skipped ({string.Join(", ", nested.Skipped.Select(s => s.Op.Name))})";
            Console.WriteLine($"{entry.Id}: {(divergence is null ? "agrees" : "DIVERGES")} with {targetId} (legacy container, {machine.ContainerText}) over {nested.Runnable.Ops.Length} op(s){skipped}");
            if (divergence is not null) Console.WriteLine(divergence.Describe());
            var stage2 = machine.Domain ? JudgeProbes(entry, nested, machine, () => catalog.Create(targetId)) : null;
            if (divergence is not null || stage2 is not null) diverged++;
        }
        if (judged == 0) throw new Traces.TraceFormatException($"{string.Join(", ", paths)}: no program of a nested machine's profile ({NestedMachine.Names}) found");
        Console.WriteLine($"realqemu: {judged - diverged}/{judged} program(s) agree with real QEMU");
        return diverged == 0 ? Cli.Ok : Cli.Findings;
    }

    /// <summary>The lab's DMA probes of a program, judged against what the model holds at each
    /// step: the first divergence (printed) or null.</summary>
    static Stage2Divergence? JudgeProbes(CorpusEntry entry, NestedProgram nested, NestedMachine machine, Func<Listener.ListenerTarget> model)
    {
        string path = Stage2Probes.ReadingsOf(entry.Path);
        if (!File.Exists(path)) throw new Traces.TraceFormatException($"{entry.Path}: no Stage-2 probe readings beside it ({path}); harness/lab/run realqemu records them");
        var readings = Stage2Probes.Parse(path, File.ReadAllText(path));
        var (divergence, unjudged) = Stage2Probes.Judge(nested.Runnable, machine, model, readings);
        Console.WriteLine($"{entry.Id}: Stage-2 {(divergence is null ? "agrees" : "DIVERGES")}: {readings.Count} DMA probe(s) through the IOMMU, {unjudged} not judged");
        if (divergence is not null) Console.WriteLine($"  {divergence.Signature}: {divergence.Describe()}");
        return divergence;
    }
}

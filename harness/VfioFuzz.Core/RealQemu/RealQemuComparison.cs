using System.Collections.Immutable;
using System.Text;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.RealQemu;

/// <summary>Where real QEMU and the model part: a finding of the real-QEMU lab, named by its
/// signature and described with both sides.</summary>
public interface INestedDivergence
{
    string Signature { get; }
    string Describe();
}

/// <summary>The first op after which the nested QEMU and the model disagree: what each side's
/// listener saw and did during that op.</summary>
public sealed record StepDivergence(int Step, string Op, IReadOnlyList<StepEvent> Real, IReadOnlyList<StepEvent> Model, string OpName = "boot") : INestedDivergence
{
    /// <summary>model-divergence:&lt;op kind or boot&gt;:&lt;side&gt;-&lt;event&gt;: the first event only real
    /// QEMU shows (real-only), else the first only the model shows (model-only), else the first
    /// out of order (order), e.g. model-divergence:command-mem:model-only-unmap. One divergence,
    /// whatever program shows it, is saved and minimized once (a differential campaign's key).</summary>
    public string Signature
    {
        get
        {
            var (side, e) = Real.FirstOrDefault(r => !Model.Contains(r)) is { } realOnly ? ("real-only", realOnly)
                : Model.FirstOrDefault(m => !Real.Contains(m)) is { } modelOnly ? ("model-only", modelOnly)
                // Same events, another order or count: the first place they part.
                : ("order", Real.Zip(Model).FirstOrDefault(p => p.First != p.Second).First
                            ?? (Real.Count > Model.Count ? Real[Model.Count] : Model[Real.Count]));
            string what = string.Join('-', e.What.ToLowerInvariant().Split([' ', '[', ']'], StringSplitOptions.RemoveEmptyEntries));
            return $"model-divergence:{OpName}:{side}-{what}";
        }
    }

    public string Describe()
    {
        var text = new StringBuilder($"step {Step} ({Op}): real QEMU and the model diverge");
        int n = Math.Max(Real.Count, Model.Count);
        for (int i = 0; i < n; i++)
        {
            string real = i < Real.Count ? Real[i].ToString() : "-", model = i < Model.Count ? Model[i].ToString() : "-";
            text.Append($"\n  {(real == model ? " " : "!")} real: {real,-48} model: {model}");
        }
        return text.ToString();
    }
}

/// <summary>A program as the nested machine runs it: the ops it has a guest-visible form for,
/// and the ones it skipped (with why).</summary>
public sealed record NestedProgram(FuzzProgram Runnable, IReadOnlyList<(Op Op, string Why)> Skipped);

/// <summary>
/// Holds the World and a listener model to what QEMU's own code did: the same program runs on
/// the nested QEMU (harness/lab/run realqemu) and on the model, and the sections each listener
/// saw and the container calls it made, with the kernel's answers, are compared op by op. Boot is compared by what it
/// leaves (the nested QEMU registers its listener before the machine's last layout changes, the
/// model on the booted World, so the order differs and the result must not); teardown is not
/// (QEMU quits without unregistering its listener).
/// </summary>
public static class RealQemuComparison
{
    public static NestedProgram Translate(FuzzProgram program, Profile profile)
    {
        var world = new World(profile);
        var runnable = ImmutableArray.CreateBuilder<Op>();
        var skipped = new List<(Op, string)>();
        foreach (var op in program.Ops)
        {
            if (GuestActions.For(op, world) is null) { skipped.Add((op, "no guest-visible form on the nested machine")); continue; }
            try { world.Apply(op, IgnoreWorldEvents.Instance); }
            catch (ProgramException e) { skipped.Add((op, $"not legal once the skipped ops are gone: {e.Message}")); continue; }
            runnable.Add(op);
        }
        return new NestedProgram(new FuzzProgram(runnable.ToImmutable()), skipped);
    }

    /// <summary>A program's recording (the nested QEMU's stderr) judged against a model: the
    /// program as the nested machine ran it, and the first divergence or null.</summary>
    public static (NestedProgram Nested, StepDivergence? Divergence) Judge(Corpus.CorpusEntry entry, string log, Func<ListenerTarget> model)
    {
        var nested = Translate(entry.Program, entry.Profile);
        return (nested, FirstDivergence(nested.Runnable, entry.Profile, model, log, InputFile.ReadAllText(log)));
    }

    /// <summary>Where the lab keeps a program's recording: beside it, same name, .log.</summary>
    public static string RecordingOf(string programPath) => Path.ChangeExtension(programPath, ".log");

    /// <summary>The first op whose steps differ, or null when every op agrees.</summary>
    public static StepDivergence? FirstDivergence(FuzzProgram runnable, Profile profile, Func<ListenerTarget> model, string logPath, string logText)
    {
        var real = ListenerSteps.FromNestedLog(logPath, logText);
        var machine = NestedMachine.Of(profile) ?? throw new ArgumentException($"profile {profile.Name} is not a nested machine of the lab ({NestedMachine.Names})");
        var run = new ProgramRunner(profile, model, machine.Options).Run(runnable);
        if (run.Findings.FirstOrDefault(f => f.Signature == $"{Oracles.FindingKinds.Timeout}:watchdog") is { } cut)
            throw new TimeoutException($"the model's run of {logPath}'s program was cut short by its watchdog at step {cut.Step}: no comparison");
        var modelled = ListenerSteps.FromModelTrace(run.Trace);
        if (real.Count < runnable.Ops.Length + 1)
            throw new Traces.TraceFormatException($"{logPath}: {real.Count - 1} op marker(s) for {runnable.Ops.Length} op(s): the nested run stopped early");
        var realBoot = ListenerSteps.FinalView(real[0]);
        var modelBoot = ListenerSteps.FinalView(modelled[0]);
        if (!realBoot.SequenceEqual(modelBoot)) return new StepDivergence(0, "boot: what the listener holds after it", realBoot, modelBoot);
        for (int step = 1; step <= runnable.Ops.Length; step++)
        {
            var m = step < modelled.Count ? modelled[step] : [];
            if (!real[step].SequenceEqual(m))
                return new StepDivergence(step, ProgramText.Describe(runnable.Ops[step - 1]), real[step], m, runnable.Ops[step - 1].Name);
        }
        return null;
    }
}

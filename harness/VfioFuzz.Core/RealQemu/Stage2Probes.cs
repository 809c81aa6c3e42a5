using System.Globalization;
using System.Text;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.RealQemu;

/// <summary>What the model says of an IOVA after a step: the listener holds a mapping over it
/// (a device DMA there must reach what the guest's CPU sees at that address) or it does not
/// (the IOMMU must block it).</summary>
public enum ProbeClaim { Mapped, Unmapped }

/// <summary>One DMA probe the lab makes after a step: a 4-byte read by the device at an IOVA;
/// <paramref name="WritableRam"/> when the address is guest RAM the harness can write a fresh
/// pattern into first, so a read of the right page is told from a stale one. Where it cannot
/// (ROM) and the word reads 0, the lab may probe the first non-zero word of the first
/// <paramref name="Slack"/> bytes instead: the same mapping, and a word a blocked read is told
/// from.</summary>
public sealed record Stage2Probe(int Step, ulong Iova, ProbeClaim Claim, bool WritableRam, ulong Slack = 4)
{
    /// <summary>How far into a read-only mapping the lab looks for a non-zero word.</summary>
    public const ulong MaxSlack = 256UL << 10;
}

/// <summary>What the lab read for a probe: the word the guest's CPU sees at the address (after
/// the pattern was written) and the
/// word the device's DMA read through the IOMMU brought back (0 when the IOMMU blocked it: a
/// read that faults completes with zeros).</summary>
public sealed record Stage2Reading(int Step, ulong Iova, uint Cpu, uint Dma)
{
    public override string ToString() => $"step={Step} iova=0x{Iova:x} cpu=0x{Cpu:x8} dma=0x{Dma:x8}";
}

/// <summary>A probe whose outcome contradicts the model.</summary>
public sealed record Stage2Divergence(int Step, string Op, string OpName, Stage2Reading Reading, ProbeClaim Claim) : INestedDivergence
{
    /// <summary>mapped-but-blocked (a DMAR fault where the model maps), unmapped-but-reached
    /// (a completed DMA where it does not), or wrong-page (the DMA reached other memory than the
    /// CPU sees there: a stale mapping).</summary>
    public string Kind => Claim == ProbeClaim.Unmapped ? "unmapped-but-reached" : Reading.Dma == 0 ? "mapped-but-blocked" : "wrong-page";

    /// <summary>stage2-divergence:&lt;op kind or boot&gt;:&lt;kind&gt;.</summary>
    public string Signature => $"stage2-divergence:{OpName}:{Kind}";

    public string Describe() => Claim == ProbeClaim.Mapped
        ? $"step {Step} ({Op}): the model maps IOVA 0x{Reading.Iova:x}, but the device's DMA read 0x{Reading.Dma:x8} where the CPU sees 0x{Reading.Cpu:x8} ({Kind})"
        : $"step {Step} ({Op}): the model holds no mapping at IOVA 0x{Reading.Iova:x}, but the device's DMA read 0x{Reading.Dma:x8} there ({Kind})";
}

/// <summary>
/// A real Stage-2 check for the nested machine whose container has an IOMMU domain (q35-edu):
/// after boot and after each op, the device probes by DMA the IOVAs whose mapping the model
/// says that step made or removed (at boot, every mapping; after the last op, every mapping
/// again), one word at the start of each. The lab performs the probes (edu's DMA engine,
/// VfioFuzz.Lab); the plan and the judgement are the model's, so recorded readings are judged
/// again whenever the model changes. A stale mapping onto memory that reads as zero is not
/// told from a blocked read; a stale mapping onto the device's own BAR reads its ID register.
/// </summary>
public static class Stage2Probes
{
    /// <summary>The word of low RAM the device writes each reading to (its DMA's second
    /// leg): a step after which the model maps no IOVA there (every device unplugged, so no
    /// container) gets no probes, since none could report.</summary>
    public const ulong Scratch = 0x1000;

    /// <summary>What the model holds after each step (0 = boot), as (IOVA, size) mappings.</summary>
    static IReadOnlyList<IReadOnlyList<(ulong Iova, ulong Size)>> Held(FuzzProgram runnable, NestedMachine machine, Func<ListenerTarget> model)
    {
        var run = new ProgramRunner(machine.Profile, model, machine.Options).Run(runnable);
        var steps = ListenerSteps.FromModelTrace(run.Trace);
        var held = new List<IReadOnlyList<(ulong, ulong)>>();
        var events = new List<StepEvent>();
        for (int step = 0; step <= runnable.Ops.Length; step++)
        {
            if (step < steps.Count) events.AddRange(steps[step]);
            held.Add([.. ListenerSteps.FinalView(events).Where(e => e.What == "map").Select(e => (e.A, e.B))]);
        }
        return held;
    }

    static bool Covers(IReadOnlyList<(ulong Iova, ulong Size)> held, ulong iova) =>
        held.Any(m => iova >= m.Iova && iova - m.Iova < m.Size);

    /// <summary>The probes to make after each step, in step order.</summary>
    public static IReadOnlyList<Stage2Probe> Plan(FuzzProgram runnable, NestedMachine machine, Func<ListenerTarget> model)
    {
        var held = Held(runnable, machine, model);
        var world = new World(machine.Profile);
        var probes = new List<Stage2Probe>();
        for (int step = 0; step <= runnable.Ops.Length; step++)
        {
            if (step > 0) world.Apply(runnable.Ops[step - 1], IgnoreWorldEvents.Instance);
            if (!Covers(held[step], Scratch)) continue;
            bool everything = step == 0 || step == runnable.Ops.Length;
            var before = step == 0 ? [] : held[step - 1];
            var iovas = new SortedSet<ulong>();
            foreach (var m in held[step]) if (everything || !before.Contains(m)) iovas.Add(m.Iova);
            foreach (var m in before) if (!Covers(held[step], m.Iova)) iovas.Add(m.Iova);
            foreach (ulong iova in iovas)
            {
                var mapping = held[step].FirstOrDefault(m => iova >= m.Iova && iova - m.Iova < m.Size);
                bool mapped = mapping.Size != 0;
                probes.Add(new Stage2Probe(step, iova, mapped ? ProbeClaim.Mapped : ProbeClaim.Unmapped,
                    world.View.Find(iova) is { } s && s.Mr.Kind == RegionKind.Ram && !s.ReadOnly,
                    mapped ? Math.Min(mapping.Iova + mapping.Size - iova, Stage2Probe.MaxSlack) : 4));
            }
        }
        return probes;
    }

    /// <summary>The readings judged against what the model holds at their steps: the first
    /// divergence or null, and how many readings could not be judged (a mapped address whose
    /// CPU view is 0 reads the same as a blocked DMA).</summary>
    public static (Stage2Divergence? First, int Unjudged) Judge(FuzzProgram runnable, NestedMachine machine, Func<ListenerTarget> model, IReadOnlyList<Stage2Reading> readings)
    {
        var held = Held(runnable, machine, model);
        int unjudged = 0;
        foreach (var r in readings.OrderBy(r => r.Step))
        {
            if (r.Step < 0 || r.Step > runnable.Ops.Length) throw new ArgumentException($"probe at step {r.Step}: the program has {runnable.Ops.Length} op(s)");
            var claim = Covers(held[r.Step], r.Iova) ? ProbeClaim.Mapped : ProbeClaim.Unmapped;
            bool agrees = claim == ProbeClaim.Unmapped ? r.Dma == 0 : r.Dma == r.Cpu;
            if (claim == ProbeClaim.Mapped && r.Cpu == 0) { unjudged++; continue; }
            if (agrees) continue;
            string op = r.Step == 0 ? "boot" : ProgramText.Describe(runnable.Ops[r.Step - 1]);
            return (new Stage2Divergence(r.Step, op, r.Step == 0 ? "boot" : runnable.Ops[r.Step - 1].Name, r, claim), unjudged);
        }
        return (null, unjudged);
    }

    /// <summary>Where the lab keeps probe readings: beside the program or its recording, same name, .probes.</summary>
    public static string ReadingsOf(string programPath) => Path.ChangeExtension(programPath, ".probes");

    public static string Format(IEnumerable<Stage2Reading> readings)
    {
        var text = new StringBuilder("# Stage-2 probes by the device's DMA through the IOMMU (harness/lab/run realqemu): cpu is what the guest's CPU\n" +
                                     "# reads at the address, dma what the device's 4-byte read brought back (0: blocked)\n");
        foreach (var r in readings) text.Append(r).Append('\n');
        return text.ToString();
    }

    /// <summary>A readings file; a malformed line is an error naming the file and line.</summary>
    public static IReadOnlyList<Stage2Reading> Parse(string path, string text)
    {
        var readings = new List<Stage2Reading>();
        var lines = text.Replace("\r", "").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(f => f.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
            if (fields.Count != 4 || !fields.TryGetValue("step", out var step) || !int.TryParse(step, out int s) ||
                !Hex(fields, "iova", out ulong iova) || !Hex(fields, "cpu", out ulong cpu) || cpu > uint.MaxValue || !Hex(fields, "dma", out ulong dma) || dma > uint.MaxValue)
                throw new Traces.TraceFormatException($"{path}:{i + 1}: expected 'step=N iova=0x.. cpu=0x.. dma=0x..', got '{line}'");
            readings.Add(new Stage2Reading(s, iova, (uint)cpu, (uint)dma));
        }
        return readings;
    }

    static bool Hex(Dictionary<string, string> fields, string key, out ulong value)
    {
        value = 0;
        return fields.TryGetValue(key, out var v) && v.StartsWith("0x", StringComparison.Ordinal) &&
               ulong.TryParse(v.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}

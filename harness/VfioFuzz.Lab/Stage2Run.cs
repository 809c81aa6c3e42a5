using VfioFuzz.RealQemu;

namespace VfioFuzz.Lab;

/// <summary>A program's Stage-2 probes on edu: the plan, and what each probe read. Each
/// probe writes a fresh pattern into guest RAM at the address (where it is RAM), reads the
/// CPU's view, then has edu read the address by DMA and write what it got to a scratch word
/// of low RAM, which the nested QEMU reads back (a sentinel there first: a DMA that never
/// reached the scratch word is the harness's failure, not a reading).</summary>
sealed class Stage2Run(EduDma edu, IReadOnlyList<Stage2Probe> plan)
{
    const ulong Scratch = Stage2Probes.Scratch;
    const uint Sentinel = 0xdeadbeef;
    uint _pattern = 0xa500_0000;
    public List<Stage2Reading> Readings { get; } = [];

    public void AfterStep(int step, NestedQemu qemu)
    {
        var probes = plan.Where(p => p.Step == step).ToList();
        if (probes.Count == 0) return;
        using var enabled = edu.Enabled();
        foreach (var probe in probes)
        {
            ulong iova = probe.Iova;
            if (probe.WritableRam) qemu.WriteMemory(iova, ++_pattern);
            else if (probe.Claim == ProbeClaim.Mapped && qemu.ReadMemory(iova) == 0) iova = FirstNonZeroWord(qemu, probe);
            uint cpu = qemu.ReadMemory(iova);
            qemu.WriteMemory(Scratch, Sentinel);
            edu.ReadInto(iova, Scratch);
            uint dma = qemu.ReadMemory(Scratch);
            if (dma == Sentinel) throw new IOException($"step {step}: edu's DMA to the scratch word at 0x{Scratch:x} never landed (is low RAM mapped?)");
            Readings.Add(new Stage2Reading(step, iova, cpu, dma));
        }
    }

    /// <summary>The first non-zero word of a read-only mapping's first bytes, or the probe's
    /// own address when they are all zero (the reading is then not judged).</summary>
    static ulong FirstNonZeroWord(NestedQemu qemu, Stage2Probe probe)
    {
        byte[] bytes = qemu.ReadMemory(probe.Iova, probe.Slack & ~3UL);
        for (int i = 0; i + 4 <= bytes.Length; i += 4)
            if (BitConverter.ToUInt32(bytes, i) != 0) return probe.Iova + (ulong)i;
        return probe.Iova;
    }
}

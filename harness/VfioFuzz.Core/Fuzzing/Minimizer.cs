using System.Collections.Immutable;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.Fuzzing;

/// <summary>
/// Delta debugging over the op list (ddmin): removes chunks of ops, then single ops, keeping
/// any candidate that still produces the same finding signature. A candidate whose ops are no
/// longer legal (an init-done whose reset was removed) simply does not reproduce. The
/// signatures come from a run on a target, or from any judge of a program (the real-QEMU
/// lab's comparison with a nested QEMU).
/// </summary>
public sealed class Minimizer(Func<FuzzProgram, IEnumerable<string>> signaturesOf)
{
    public Minimizer(ProgramRunner runner) : this(p => runner.Run(p).Signatures) { }

    public int Runs { get; private set; }

    public FuzzProgram Minimize(FuzzProgram program, string signature)
    {
        if (!Reproduces(program.Ops, signature))
            throw new ArgumentException($"the program does not produce {signature}; nothing to minimize");
        var ops = program.Ops;
        int chunks = 2;
        while (ops.Length >= 2)
        {
            bool reduced = false;
            int size = (ops.Length + chunks - 1) / chunks;
            for (int start = 0; start < ops.Length; start += size)
            {
                var candidate = ops.RemoveRange(start, Math.Min(size, ops.Length - start));
                if (!Reproduces(candidate, signature)) continue;
                ops = candidate;
                chunks = Math.Max(chunks - 1, 2);
                reduced = true;
                break;
            }
            if (reduced) continue;
            if (size == 1) break;
            chunks = Math.Min(chunks * 2, ops.Length);
        }
        // A last pass of single removals: ddmin's result is 1-minimal only after it.
        for (int i = ops.Length - 1; i >= 0; i--)
        {
            var candidate = ops.RemoveAt(i);
            if (Reproduces(candidate, signature)) ops = candidate;
        }
        return new FuzzProgram(ops);
    }

    bool Reproduces(ImmutableArray<Op> ops, string signature)
    {
        Runs++;
        try
        {
            return signaturesOf(new FuzzProgram(ops)).Contains(signature);
        }
        catch (ProgramException)
        {
            return false;
        }
    }
}

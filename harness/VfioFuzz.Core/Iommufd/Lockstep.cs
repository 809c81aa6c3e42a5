namespace VfioFuzz.Iommufd;

/// <summary>The comparisons a differential backend makes after each call, whichever uAPI
/// (iommufd's IOAS, a type1 container): the answers, then what each side holds.</summary>
public static class Lockstep
{
    public static void Answers(string what, string call, Errno kernelAnswer, Errno simAnswer)
    {
        if (kernelAnswer != simAnswer)
            throw new BackendDivergenceException($"{what}:{Name(kernelAnswer)}-vs-{Name(simAnswer)}", call,
                $"the kernel answered {Name(kernelAnswer)}, the simulator {Name(simAnswer)}");
    }

    public static void Lengths(string what, string call, ulong kernelLength, ulong simLength)
    {
        if (kernelLength != simLength)
            throw new BackendDivergenceException($"{what}:length", call, $"the kernel unmapped 0x{kernelLength:x} bytes, the simulator 0x{simLength:x}");
    }

    /// <summary>The kernel's areas (the shadow of its answers) against the simulator's, whole.</summary>
    public static void Areas(string what, string call, IDmaMappings kernel, IDmaMappings sim)
    {
        var all = (UInt128)ulong.MaxValue + 1;
        var k = kernel.AreasIn(0, all);
        var s = sim.AreasIn(0, all);
        if (k.SequenceEqual(s)) return;
        var first = k.Except(s).Concat(s.Except(k)).First();
        throw new BackendDivergenceException($"{what}:areas", call,
            $"after the call the kernel holds {k.Count} area(s), the simulator {s.Count}; the first difference is 0x{first.Iova:x}+0x{first.Length:x}");
    }

    static string Name(Errno e) => e == Errno.Ok ? "OK" : e.ToString();
}

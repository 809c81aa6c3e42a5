using SharpFuzz;
using VfioFuzz.Fuzzing;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.PlantedBugs;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using VfioFuzz.Targets;

// Usage: VfioFuzz.FuzzDriver TARGET PROFILE KERNEL|default [KNOWN-SIGNATURES,...]
//        VfioFuzz.FuzzDriver --guided OUT-DIR SEEDS-DIR SEED SECONDS TARGET PROFILE KERNEL|default [KNOWN-SIGNATURES,...]
// Each input is decoded (the decoder is total) and run; a finding whose signature is not
// known is thrown so the engine saves the input as a crash. Known = given on the command
// line, or produced by the empty program (a boot-time finding would make every input crash).
// With VFIO_FUZZ_ONLY_SIGNATURE set, only that signature is a crash (the bench's time to one
// bug, as Magma's canaries work): an input that shows another bug stays an ordinary input
// the engine can queue and extend, instead of a dead end in crashes/.
// The per-program watchdog is left to the engine's own timeout (afl-fuzz -t, libFuzzer
// -timeout), which reports a hang; the guided loop, with no process around it, uses the runner's.
// Under libfuzzer-bridge (which sets __LIBFUZZER_SHM_ID) SharpFuzz's libFuzzer runner is
// used; with --guided the driver's own coverage-guided loop (GuidedRun); otherwise SharpFuzz's
// AFL++ out-of-process runner.
if (args.Length > 0 && args[0] == "--guided") return GuidedRun.Run(args[1..], a => new Harness(a, GuidedRun.Watchdog));
if (args.Length is < 3 or > 4)
{
    Console.Error.WriteLine("usage: VfioFuzz.FuzzDriver TARGET PROFILE KERNEL|default [KNOWN-SIGNATURES,...]");
    return 2;
}
// Instrumented code (Core, Targets) may only run once SharpFuzz has set up the coverage map
// inside Run, so the harness is built on the first input.
Harness? harness = null;
if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null)
{
    Fuzzer.LibFuzzer.Run(input => (harness ??= new Harness(args, TimeSpan.MaxValue)).Execute(input));
    return 0;
}
var buffer = new byte[ProgramDecoder.MaxInputBytes];
Fuzzer.OutOfProcess.Run(stream =>
{
    harness ??= new Harness(args, TimeSpan.MaxValue);
    int length = 0, read;
    while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0) length += read;
    harness.Execute(buffer.AsSpan(0, length));
});
return 0;

sealed class Harness
{
    readonly Profile _profile;
    readonly ProgramRunner _runner;
    readonly CrashRule _crash;

    public Harness(string[] args, TimeSpan watchdog)
    {
        // The targets users fuzz, and the bench's planted bugs (its depth section runs them).
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly, typeof(PlantedBug).Assembly);
        string targetId = args[0];
        catalog.Create(targetId);
        _profile = Profile.Resolve(args[1], args[2] == "default" ? null : args[2]);
        var container = ContainerNames.TryParse(Environment.GetEnvironmentVariable(ContainerNames.Variable) ?? "iommufd", out var c)
            ? c : throw new ArgumentException($"{ContainerNames.Variable}: unknown container (iommufd, type1, both)");
        _runner = new ProgramRunner(_profile, () => catalog.Create(targetId), new RunOptions(Watchdog: watchdog, Container: container));
        _crash = Environment.GetEnvironmentVariable(CrashRule.OnlySignatureVariable) is { Length: > 0 } only
            ? CrashRule.Only(only)
            : CrashRule.Unknown((args.Length == 4 ? args[3].Split(',', StringSplitOptions.RemoveEmptyEntries) : [])
                .Concat(_runner.Run(FuzzProgram.Empty).Signatures), Environment.GetEnvironmentVariable(CrashRule.KnownFileVariable));
    }

    readonly byte[] _input = new byte[ProgramDecoder.MaxInputBytes];

    // Live executions for the CLI's progress line (counted before the run, so a crash counts).
    readonly ExecCounter? _counter = ExecCounter.FromEnvironment();

    public void Execute(ReadOnlySpan<byte> input)
    {
        if (Crash(input) is { } signature) throw new OracleFindingException(signature);
    }

    /// <summary>Runs the input; the signature of the first finding that is a crash, or null.</summary>
    public string? Crash(ReadOnlySpan<byte> input)
    {
        _counter?.Increment();
        // The runner decodes as it runs; bytes past the last op that can matter are ignored.
        int length = Math.Min(input.Length, _input.Length);
        input[..length].CopyTo(_input);
        foreach (var f in _runner.Run(_input.AsMemory(0, length), out _).Findings)
            if (_crash.IsCrash(f.Signature)) return f.Signature;
        return null;
    }
}

/// <summary>What the engine sees as a crash: an oracle fired. The message is the signature.</summary>
sealed class OracleFindingException(string signature) : Exception(signature);

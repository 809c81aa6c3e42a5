namespace VfioFuzz.Fuzzing;

/// <summary>
/// A hang in the guided engine: one program still running long after the per-program
/// watchdog, which the runner checks between ops, would have stopped it. What is left is a
/// call into the listener that never returns, which no thread can end, so the driver saves
/// the input in its instance's hangs/ (AFL++'s layout) and exits with <see cref="ExitCode"/>;
/// the CLI starts the instance again on the rest of its budget, from its queue on disk.
/// A hang is not triaged: nothing in-process can run it to an end.
/// </summary>
public static class GuidedHang
{
    /// <summary>Twice the guided runner's per-program watchdog (5 s).</summary>
    public static readonly TimeSpan After = TimeSpan.FromSeconds(10);

    /// <summary>The driver's exit code once it saved a hang (EX_SOFTWARE + 16: not a code the
    /// runtime or a signal gives).</summary>
    public const int ExitCode = 86;
}

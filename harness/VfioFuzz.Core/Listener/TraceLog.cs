namespace VfioFuzz.Listener;

/// <summary>
/// Trace events in the shape QEMU's log trace backend prints them (`name args`), so a
/// report can quote what the model decided next to what a real `-trace 'vfio_*'` run logs.
/// Disabled on the fuzzing hot path: callers test <see cref="Enabled"/> before formatting.
/// </summary>
public sealed class TraceLog
{
    public static readonly TraceLog Disabled = new(enabled: false);

    readonly List<string> _lines = [];

    public TraceLog(bool enabled = true) => Enabled = enabled;

    public bool Enabled { get; }

    public IReadOnlyList<string> Lines => _lines;

    public void Emit(string name, string args)
    {
        if (Enabled) _lines.Add(args.Length == 0 ? name : $"{name} {args}");
    }

    /// <summary>An error_report/warn_report line as QEMU prints it on stderr.</summary>
    public void Stderr(string message)
    {
        if (Enabled) _lines.Add($"qemu-system-aarch64: {message}");
    }

    /// <summary>A line of our own (not a QEMU event), marked so trace importers skip it.</summary>
    public void Note(string text)
    {
        if (Enabled) _lines.Add($"# {text}");
    }
}

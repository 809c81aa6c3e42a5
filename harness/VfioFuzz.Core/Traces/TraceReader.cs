using System.Text;
using System.Text.RegularExpressions;

namespace VfioFuzz.Traces;

/// <summary>One trace event line as QEMU's log backend printed it (or one of QEMU's own error
/// lines, under a synthetic `qemu_error_*` name), after the shapes people paste it in were taken
/// off: its line number in the file (the first, when a mail client wrapped it), the event name
/// and its argument text.</summary>
public sealed record TraceEventLine(int Line, string Name, string Args);

/// <summary>What reading a log gave: the events, the vfio_/iommufd_ events this importer does
/// not use (named with their lines, never silently dropped), and how many lines were neither.</summary>
public sealed record TraceReadResult(string Path, int LinesRead, IReadOnlyList<TraceEventLine> Events, int LinesSkipped,
    IReadOnlyList<TraceEventLine> OtherEvents);

/// <summary>Why a file is not a trace at all (empty, binary, no event in it).</summary>
public sealed class TraceFormatException(string message) : InputException(message);

/// <summary>
/// Reads QEMU `-trace` output (log backend) and QEMU's DMA error lines in the shapes people
/// paste them: bare `name args` lines; `pid@seconds.micros:name args`; syslog and journald
/// prefixes in any locale and script (`Mon DD HH:MM:SS`, `DD Mon`, ISO and short-iso,
/// `[monotonic]`, unix seconds, then `host prog[pid]: `); kata/containerd `msg="..."` fields
/// (escaped quotes, `\n` line breaks); markdown headings, list markers, emphasis and code
/// spans; mail quoting (`> `, `>> `, `> > `); lines a mail client wrapped (joined only when the
/// joined text is the event's own, i.e. parses in one of its formats: prose is never joined).
/// Guest console output and anything else is counted and skipped.
/// </summary>
public static partial class TraceReader
{
    public static TraceReadResult Read(string path)
    {
        byte[] bytes = InputFile.ReadAllBytes(path);
        if (bytes.Length == 0) throw new TraceFormatException($"{path}: the file is empty");
        int control = bytes.Count(b => b == 0 || (b < 0x20 && b is not (byte)'\n' and not (byte)'\r' and not (byte)'\t'));
        if (control > 0) throw new TraceFormatException($"{path}: binary data ({control} control bytes), not a QEMU trace log");
        return Parse(path, Encoding.UTF8.GetString(bytes));
    }

    public static TraceReadResult Parse(string path, string text)
    {
        var raw = text.Replace("\r", "").Split('\n');
        if (raw.Length > 0 && raw[^1].Length == 0) raw = raw[..^1];
        // Each physical line, or each line inside a container runtime's msg="..." field, with
        // the pasting prefixes taken off; the file line number travels with it.
        var lines = raw.SelectMany((l, i) => Unwrap(l).Select(body => (Line: i + 1, Body: body))).ToArray();
        var events = new List<TraceEventLine>();
        var other = new List<TraceEventLine>();
        int skipped = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (Start(lines[i].Body) is not var (name, args))
            {
                if (EventLine().Match(lines[i].Body) is { Success: true } unknown)
                    other.Add(new TraceEventLine(lines[i].Line, unknown.Groups["name"].Value, unknown.Groups["args"].Value));
                else skipped++;
                continue;
            }
            int first = lines[i].Line;
            // A wrap: join the next 1-3 lines when the joined text parses in one of the event's
            // formats (wraps happen at a space, eaten or kept, or inside a long token); repeat
            // while that holds. A text that parses alone may still be an older, shorter format
            // of a wrapped newer one, so a join that parses is preferred.
            for (bool joined = true; joined;)
            {
                joined = false;
                for (int k = 1; k <= 3 && i + k < lines.Length && Start(lines[i + k].Body) is null && !Mentions().IsMatch(lines[i + k].Body); k++)
                {
                    var next = lines.Skip(i + 1).Take(k).Select(l => l.Body.Trim()).ToArray();
                    string spaced = args.TrimEnd() + " " + string.Join(" ", next), glued = args + string.Concat(next);
                    string? fits = TraceArgs.Parses(name, spaced) ? spaced : TraceArgs.Parses(name, glued) ? glued : null;
                    if (fits is null) continue;
                    (args, i, joined) = (fits, i + k, true);
                    break;
                }
            }
            events.Add(new TraceEventLine(first, name, args.Trim()));
        }
        if (events.Count == 0)
            throw new TraceFormatException($"{path}: no QEMU trace events or DMA error lines found in {raw.Length} line(s) (expected -trace 'vfio_*' -trace 'iommufd_backend_*' output or QEMU's vfio/iommufd error lines)");
        return new TraceReadResult(path, raw.Length, events, skipped, other);

    }

    /// <summary>The event a line starts (a known trace event, or a QEMU DMA error line), or null.</summary>
    static (string Name, string Args)? Start(string body)
    {
        var m = EventLine().Match(body);
        if (m.Success && TraceArgs.IsKnown(m.Groups["name"].Value)) return (m.Groups["name"].Value, m.Groups["args"].Value);
        return QemuMessages.TryStart(body, out var name, out var text) ? (name, text) : null;
    }

    /// <summary>The texts a physical line holds: itself, or the lines of a msg="..." field.</summary>
    static IEnumerable<string> Unwrap(string line)
    {
        string s = Strip(line);
        var msg = MsgField().Match(s);
        if (!msg.Success) return [s];
        string value = msg.Groups[1].Value.Replace("\\\"", "\"").Replace("\\t", " ");
        return value.Split("\\n").Select(Strip);
    }

    /// <summary>The line without the prefixes pasting adds.</summary>
    static string Strip(string line)
    {
        string s = line;
        var q = Quote().Match(s);
        if (q.Success) s = s[q.Length..];
        s = s.TrimStart();
        // A log prefix first (`24. Nov. 09:00:01 host prog:` is no numbered list); markdown
        // markers only on a line without one.
        var p = Prefix().Match(s);
        if (p.Length == 0)
        {
            s = Markdown().Replace(s, "");
            p = Prefix().Match(s);
        }
        s = s[p.Length..];
        s = Emphasis().Replace(s.TrimEnd(), "${text}");
        return s.TrimEnd();
    }

    [GeneratedRegex(@"^(\s*>\s?)+")]
    private static partial Regex Quote();

    /// <summary>Markdown block markers: a heading's #s, a list item's marker, a blockquote was taken by Quote.</summary>
    [GeneratedRegex(@"^\s*(?:#{1,6}\s+|[-*+]\s+(?=\S)|\d+[.)]\s+(?=\D))")]
    private static partial Regex Markdown();

    /// <summary>A whole line in emphasis or a code span (`**x**`, `*x*`, `__x__`, `_x_`, `` `x` ``).</summary>
    [GeneratedRegex(@"^(?<m>\*\*|__|\*|_|`+)(?<text>\S.*?\S|\S)\k<m>$")]
    private static partial Regex Emphasis();

    /// <summary>A container runtime's logfmt message: msg="..." with \" and \n escapes.</summary>
    [GeneratedRegex(@"\bmsg=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex MsgField();

    /// <summary>syslog and journald prefixes in any locale: a month name in any script before or
    /// after the day (`Nov 24`, `ноя 24`, `24. Nov`), with or without fractions; ISO and
    /// short-iso(-precise); `[ 1234.567890]` monotonic; unix seconds; then `host prog[pid]: `.
    /// Then QEMU's own `pid@sec.usec:`.</summary>
    [GeneratedRegex(@"^(?:(?:(?:\p{L}[\p{L}.]{1,9}\s+\d{1,2}|\d{1,2}\.?\s+\p{L}[\p{L}.]{1,9})\s+\d\d:\d\d:\d\d(?:[.,]\d+)?|\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?|\[\s*\d+\.\d+\]|\d{9,}\.\d+) \S+ [^\s:\[]+(?:\[\d+\])?: )?(?:\d+@\d+\.\d+:)?")]
    private static partial Regex Prefix();

    /// <summary>A line that names an event anywhere is another event (behind a prefix not known
    /// here), never a wrapped continuation.</summary>
    [GeneratedRegex(@"\b(?:vfio|iommufd)_[a-z0-9_]+\s")]
    private static partial Regex Mentions();

    [GeneratedRegex(@"^(?<name>(?:vfio|iommufd)_[a-z0-9_]+)(?:\s(?<args>.*))?$")]
    private static partial Regex EventLine();
}

using System.Text;
using System.Text.RegularExpressions;

namespace VfioFuzz.Traces;

/// <summary>One trace event line as QEMU's log backend printed it, after the shapes people
/// paste it in were taken off: its line number in the file (the first, when a mail client
/// wrapped it), the event name and its argument text.</summary>
public sealed record TraceEventLine(int Line, string Name, string Args);

/// <summary>What reading a log gave: the events, and how many lines were not events.</summary>
public sealed record TraceReadResult(string Path, int LinesRead, IReadOnlyList<TraceEventLine> Events, int LinesSkipped);

/// <summary>Why a file is not a trace at all (empty, binary, no event in it).</summary>
public sealed class TraceFormatException(string message) : InputException(message);

/// <summary>
/// Reads QEMU `-trace` output (log backend) in the shapes people paste: bare
/// `name args` lines; `pid@seconds.micros:name args`; syslog/journald prefixes
/// (`Mon DD HH:MM:SS host prog[PID]: ` or an ISO timestamp); mail quoting (`> `, `>> `, `> > `);
/// lines a mail client wrapped (a known event whose arguments do not parse is joined with the
/// next line); guest console output and anything else is counted and skipped.
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
        var lines = text.Replace("\r", "").Split('\n');
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        var events = new List<TraceEventLine>();
        int skipped = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string body = Strip(lines[i]);
            var m = EventLine().Match(body);
            if (!m.Success || !TraceArgs.IsKnown(m.Groups["name"].Value))
            {
                skipped++;
                continue;
            }
            string name = m.Groups["name"].Value, args = m.Groups["args"].Value;
            int first = i + 1;
            // A mail client's wrap: the next line is no event and continues this one. Join it
            // when the joined text still parses (an older, shorter format may parse alone), or
            // while this one does not parse yet; wraps happen at a space (eaten or kept), or
            // inside a long token.
            for (int joins = 0; joins < 3 && i + 1 < lines.Length && !EventLine().IsMatch(Strip(lines[i + 1])); joins++)
            {
                string next = Strip(lines[i + 1]).TrimStart();
                string spaced = args.TrimEnd() + " " + next, glued = args + next;
                if (TraceArgs.Parses(name, spaced)) args = spaced;
                else if (TraceArgs.Parses(name, glued)) args = glued;
                else if (!TraceArgs.Parses(name, args)) args = spaced;
                else break;
                i++;
            }
            events.Add(new TraceEventLine(first, name, args.Trim()));
        }
        if (events.Count == 0)
            throw new TraceFormatException($"{path}: no QEMU trace events found in {lines.Length} line(s) (expected -trace 'vfio_*' -trace 'iommufd_backend_*' output)");
        return new TraceReadResult(path, lines.Length, events, skipped);
    }

    /// <summary>The line without the prefixes pasting adds.</summary>
    static string Strip(string line)
    {
        string s = line;
        var q = Quote().Match(s);
        if (q.Success) s = s[q.Length..];
        var p = Prefix().Match(s);
        if (p.Success) s = s[p.Length..];
        return s.TrimEnd();
    }

    [GeneratedRegex(@"^(\s*>\s?)+")]
    private static partial Regex Quote();

    /// <summary>syslog (`Nov 24 09:00:00 host prog[1]: `), journald short-iso
    /// (`2026-11-24T09:00:00+0000 host prog[1]: `), then QEMU's own `pid@sec.usec:`.</summary>
    [GeneratedRegex(@"^(?:(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d{2}:?\d{2}|Z)?) \S+ [^\s:\[]+(?:\[\d+\])?: )?(?:\d+@\d+\.\d+:)?")]
    private static partial Regex Prefix();

    [GeneratedRegex(@"^(?<name>(?:vfio|iommufd)_[a-z0-9_]+)(?:\s(?<args>.*))?$")]
    private static partial Regex EventLine();
}

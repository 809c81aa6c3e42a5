using System.Text;
using System.Text.RegularExpressions;
using MimeKit;

namespace VfioFuzz.Gate;

/// <summary>One patch of a `git format-patch` mbox: the commit it was made from (the mbox
/// "From SHA" line), its author, subject (without "[PATCH n/m]"), commit message, trailers
/// and diff; and where it starts in the file.</summary>
public sealed record Patch(string Path, int Line, string CommitSha, string Author, string Subject, string Message,
    IReadOnlyList<string> Trailers, string Diff);

/// <summary>A patch file that cannot be used, with file:line.</summary>
public sealed class PatchFormatException(string path, int line, string problem) : InputException($"{path}:{line}: {problem}");

/// <summary>
/// Reads `git format-patch` output (one or more patches in mbox form; CRLF line ends and
/// RFC 2047 encoded names are fine) with MimeKit. A file that is not an mbox, a patch without
/// From/Subject, without a diff, or whose text does not decode in its charset is an error
/// naming the file and the line where that patch starts.
/// </summary>
public static partial class PatchMbox
{
    public static IReadOnlyList<Patch> Parse(string path)
    {
        byte[] bytes = InputFile.ReadAllBytes(path);
        if (!Encoding.ASCII.GetString(bytes, 0, Math.Min(5, bytes.Length)).Equals("From ", StringComparison.Ordinal))
            throw new PatchFormatException(path, 1, "not an mbox: `git format-patch` output starts with a \"From <sha> <date>\" line");
        var patches = new List<Patch>();
        using var stream = new MemoryStream(bytes);
        var parser = new MimeParser(stream, MimeFormat.Mbox);
        while (!parser.IsEndOfStream)
        {
            MimeMessage message;
            try { message = parser.ParseMessage(); }
            catch (FormatException e) { throw new PatchFormatException(path, LineOf(bytes, parser.MboxMarkerOffset), $"malformed message: {e.Message}"); }
            var patch = Read(path, LineOf(bytes, parser.MboxMarkerOffset), parser.MboxMarker, message);
            DiffCheck.Check(path, DiffLine(bytes, parser.MboxMarkerOffset), patch.Diff);
            patches.Add(patch);
        }
        return patches;
    }

    static Patch Read(string path, int line, string? marker, MimeMessage message)
    {
        var sha = MboxSha().Match(marker ?? "");
        if (!sha.Success) throw new PatchFormatException(path, line, $"the mbox line \"{marker}\" does not carry a commit SHA (From <40-hex> ...)");
        if (message.From.Count == 0) throw new PatchFormatException(path, line, "the patch has no From: header");
        if (string.IsNullOrWhiteSpace(message.Subject)) throw new PatchFormatException(path, line, "the patch has no Subject: header");
        string author = message.From.ToString();
        if (author.Contains('\uFFFD') || message.Subject.Contains('\uFFFD'))
            throw new PatchFormatException(path, line, "a header does not decode in its declared charset");
        var part = message.BodyParts.OfType<TextPart>().FirstOrDefault()
            ?? throw new PatchFormatException(path, line, "the patch has no text body");
        string body = part.Text.Replace("\r\n", "\n");
        if (body.Contains('\uFFFD'))
            throw new PatchFormatException(path, line, $"the patch text does not decode as {part.ContentType.Charset ?? "its charset"} (replacement characters)");
        int diffAt = DiffStart().Match(body) is { Success: true } d ? d.Index : -1;
        if (diffAt < 0) throw new PatchFormatException(path, line, "the patch has no diff (no \"diff --git\" line)");
        int separator = body.IndexOf("\n---\n", StringComparison.Ordinal);
        string commitMessage = (separator >= 0 && separator < diffAt ? body[..separator] : body[..diffAt]).TrimEnd();
        string subject = SubjectPrefix().Replace(message.Subject.Replace("\n", "").Replace("\r", ""), "").Trim();
        return new Patch(path, line, sha.Groups[1].Value, author, subject, commitMessage, Trailers(commitMessage), body[diffAt..]);
    }

    /// <summary>The trailer block: the last paragraph's `Key: value` and `(cherry picked from ...)` lines.</summary>
    static IReadOnlyList<string> Trailers(string message)
    {
        var paragraphs = message.Split("\n\n");
        var last = paragraphs[^1].Split('\n');
        return last.All(l => Trailer().IsMatch(l)) && paragraphs.Length > 1 ? last : [];
    }

    /// <summary>The file line of the first `diff --git` after a patch's mbox marker (format-patch
    /// writes 8-bit text, so the diff's lines are the file's lines from there on).</summary>
    static int DiffLine(byte[] bytes, long markerOffset)
    {
        var marker = "\ndiff --git "u8;
        int at = bytes.AsSpan((int)markerOffset).IndexOf(marker);
        return at < 0 ? LineOf(bytes, markerOffset) : LineOf(bytes, markerOffset + at + 1);
    }

    static int LineOf(byte[] bytes, long offset)
    {
        int line = 1;
        for (long i = 0; i < offset && i < bytes.Length; i++) if (bytes[i] == '\n') line++;
        return line;
    }

    [GeneratedRegex(@"^From ([0-9a-f]{40}) ")]
    private static partial Regex MboxSha();

    [GeneratedRegex(@"^diff --git ", RegexOptions.Multiline)]
    private static partial Regex DiffStart();

    [GeneratedRegex(@"^\[PATCH[^\]]*\]\s*")]
    private static partial Regex SubjectPrefix();

    [GeneratedRegex(@"^(?:[A-Za-z][A-Za-z0-9-]*: .+|\(cherry picked from commit .+\))$")]
    private static partial Regex Trailer();
}

using System.Text.RegularExpressions;

namespace VfioFuzz.Gate;

/// <summary>
/// Holds a patch's diff to the unified-diff rules `git apply` holds it to, so a patch cut off
/// mid-hunk or with a mangled hunk header is an input error at its line, never a verdict on a
/// diff that does not say what its author wrote: every hunk starts with a well-formed
/// `@@ -a[,b] +c[,d] @@` line and has exactly b old and d new lines after it.
/// </summary>
public static partial class DiffCheck
{
    /// <summary>Throws <see cref="PatchFormatException"/> at the first fault; <paramref name="firstLine"/>
    /// is the file line of the diff's first line.</summary>
    public static void Check(string path, int firstLine, string diff)
    {
        var lines = diff.Split('\n');
        int count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        int i = 0;
        while (i < count)
        {
            string line = lines[i];
            if (line == "-- ") return;   // format-patch's signature: the diff is over
            if (!line.StartsWith("@@", StringComparison.Ordinal)) { i++; continue; }   // file headers
            var header = HunkHeader().Match(line);
            if (!header.Success)
                throw new PatchFormatException(path, firstLine + i, $"mangled hunk header \"{Cut(line)}\" (expected @@ -start[,count] +start[,count] @@)");
            int oldLeft = Count(header.Groups[2]), newLeft = Count(header.Groups[4]);
            int start = i++;
            while (oldLeft > 0 || newLeft > 0)
            {
                if (i >= count || lines[i].StartsWith("diff --git ", StringComparison.Ordinal) || lines[i] == "-- ")
                    throw new PatchFormatException(path, firstLine + Math.Min(i, count), $"the diff is cut mid-hunk: the hunk at line {firstLine + start} " +
                        $"still expects {oldLeft} old and {newLeft} new line(s)");
                string body = lines[i++];
                if (body.StartsWith('\\')) continue;   // "\ No newline at end of file"
                char kind = body.Length == 0 ? ' ' : body[0];   // an empty context line lost its space
                switch (kind)
                {
                    case ' ': oldLeft--; newLeft--; break;
                    case '-': oldLeft--; break;
                    case '+': newLeft--; break;
                    default:
                        throw new PatchFormatException(path, firstLine + i - 1, $"a line inside the hunk at line {firstLine + start} starts with '{kind}' (not ' ', '-' or '+'): the hunk is cut or mangled");
                }
                if (oldLeft < 0 || newLeft < 0)
                    throw new PatchFormatException(path, firstLine + i - 1, $"the hunk at line {firstLine + start} has more lines than its header counts");
            }
        }
    }

    static int Count(Group g) => g.Success ? int.Parse(g.Value) : 1;

    static string Cut(string s) => s.Length > 60 ? s[..60] + "..." : s;

    [GeneratedRegex(@"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")]
    private static partial Regex HunkHeader();
}

using System.Text.RegularExpressions;

namespace VfioFuzz.Gate;

/// <summary>
/// The `pick-trailer` check: a pick carries the line `git cherry-pick -x` writes, with the
/// source branch after the SHA, exactly `(cherry picked from commit &lt;40-hex sha&gt; &lt;branch&gt;)`.
/// Its form is always judged (git writes the full SHA; this project requires the branch).
/// When series.yaml lists the pick, the SHA must start with the published upstream SHA, or be
/// exactly that SHA where only a short one is published (a reconstructed mbox names what is
/// known and pads nothing), and the branch must be the listed one (any branch when
/// series.yaml says `unknown`); a proposal (upstream `none`) must carry no such line.
/// </summary>
public static partial class PickTrailer
{
    public static GateCheck Check(Patch patch, SeriesCommit? commit, Series series)
    {
        var lines = patch.Trailers.Where(t => t.StartsWith("(cherry picked from commit ", StringComparison.Ordinal)).ToArray();
        if (commit is { IsProposal: true })
            return Result(lines.Length == 0, lines.Length == 0
                ? $"{commit.Short} is a proposal (series.yaml upstream: none): no cherry-pick trailer, as expected"
                : $"{commit.Short} is a proposal (series.yaml upstream: none) but carries \"{lines[0]}\": it was picked from somewhere; list its upstream in {series.Path}");
        string expected = commit?.ExpectedPickLine ?? "(cherry picked from commit <40-hex sha> <source branch>)";
        if (lines.Length == 0) return Result(false, $"no `git cherry-pick -x` trailer; expected the line: {expected}");
        var form = Form().Match(lines[0]);
        if (!form.Success)
            return Result(false, $"found \"{lines[0]}\", which is not `git cherry-pick -x` output naming the source branch; expected the line: {expected}");
        string sha = form.Groups[1].Value, branch = form.Groups[2].Value;
        bool full = sha.Length == 40;
        if (commit is null)
            return full
                ? Result(true, $"{lines[0]} (judged by its form only: {patch.CommitSha[..12]} is not in {series.Path})")
                : Result(false, $"found \"{lines[0]}\": git cherry-pick -x writes all 40 hex digits, and {patch.CommitSha[..12]} is not in {series.Path} to say only a short SHA is published");
        bool shaOk = full
            ? sha.StartsWith(commit.UpstreamSha, StringComparison.OrdinalIgnoreCase)
            : commit.UpstreamSha.Length < 40 && sha.Equals(commit.UpstreamSha, StringComparison.OrdinalIgnoreCase);
        bool branchOk = commit.UpstreamBranch == "unknown" || branch == commit.UpstreamBranch;
        return shaOk && branchOk
            ? Result(true, lines[0]
                + (full ? "" : " (abbreviated as published: the full SHA is not known here)")
                + (commit.UpstreamBranch == "unknown" ? $" (series.yaml does not know the source branch; the trailer names {branch})" : ""))
            : Result(false, $"found \"{lines[0]}\"; expected the line: {expected}");
    }

    static GateCheck Result(bool passed, string message) => new("pick-trailer", passed, message);

    [GeneratedRegex(@"^\(cherry picked from commit ([0-9a-f]{7,40}) (\S+)\)$")]
    private static partial Regex Form();
}

using System.Collections.Immutable;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Gate;

/// <summary>One pick on a branch: its SHA there, the mbox file, where it was picked from,
/// the target that models the tree after it, and its status.</summary>
public sealed record SeriesCommit(string Sha, string Subject, string PatchFile, string UpstreamSha, string UpstreamBranch,
    string Target, string Status, int Line)
{
    /// <summary>A proposal no upstream commit implements: nothing was cherry-picked.</summary>
    public bool IsProposal => UpstreamSha == "none";

    /// <summary>The trailer `git cherry-pick -x` writes for this pick, as far as it is known:
    /// the full SHA starts with the published (possibly short) one; an unknown branch is shown
    /// as &lt;branch&gt;.</summary>
    public string ExpectedPickLine =>
        $"(cherry picked from commit {UpstreamSha}{(UpstreamSha.Length < 40 ? $"<{40 - UpstreamSha.Length} more hex digits>" : "")} {(UpstreamBranch == "unknown" ? "<source branch>" : UpstreamBranch)})";

    public string Short => Sha[..Math.Min(12, Sha.Length)];
}

/// <summary>patches-under-test/&lt;branch&gt;/series.yaml: the picks in order and the target
/// that models the branch point.</summary>
public sealed record Series(string Path, string Branch, string BaseTarget, ImmutableArray<SeriesCommit> Commits)
{
    public string Folder => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;

    /// <summary>The commit whose branch SHA or upstream SHA starts with <paramref name="sha"/>
    /// (at least 7 hex digits), or null.</summary>
    public SeriesCommit? Find(string sha)
    {
        if (sha.Length < 7) return null;
        var hits = Commits.Where(c => c.Sha.StartsWith(sha, StringComparison.OrdinalIgnoreCase) || c.UpstreamSha.StartsWith(sha, StringComparison.OrdinalIgnoreCase)).ToArray();
        return hits.Length == 1 ? hits[0] : null;
    }

    /// <summary>The target of the tree just before <paramref name="commit"/>.</summary>
    public string TargetBefore(SeriesCommit commit)
    {
        int i = Commits.IndexOf(commit);
        return i <= 0 ? BaseTarget : Commits[i - 1].Target;
    }

    public static Series Load(string path)
    {
        string text = InputFile.ReadAllText(path);
        var f = new YamlFields(path);
        var root = f.Mapping(YamlFields.Parse(path, text), "a series");
        f.OnlyKeys(root, "a series", "branch", "base", "commits");
        var commits = ImmutableArray.CreateBuilder<SeriesCommit>();
        foreach (var node in f.Sequence(f.Required(root, "commits", "a series"), "commits").Children)
        {
            var c = f.Mapping(node, "a commit");
            f.OnlyKeys(c, "a commit", "sha", "subject", "patch", "upstream", "target", "status");
            var up = f.Mapping(f.Required(c, "upstream", "a commit"), "upstream {sha, branch}");
            var shaNode = f.Required(c, "sha", "a commit");
            string sha = f.Scalar(shaNode, "sha");
            if (!System.Text.RegularExpressions.Regex.IsMatch(sha, "^[0-9a-f]{40}$")) throw f.Error(shaNode, $"sha must be 40 hex digits, not '{sha}'");
            commits.Add(new SeriesCommit(sha, f.String(c, "subject", "a commit"), f.String(c, "patch", "a commit"),
                f.String(up, "sha", "upstream"), f.String(up, "branch", "upstream"), f.String(c, "target", "a commit"),
                f.String(c, "status", "a commit"), (int)node.Start.Line));
        }
        return new Series(path, f.String(root, "branch", "a series"), f.String(root, "base", "a series"), commits.ToImmutable());
    }
}

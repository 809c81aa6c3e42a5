using System.Diagnostics;
using System.Xml.Linq;
using VfioFuzz.Corpus;
using VfioFuzz.Gate;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The mbox parser on real `git format-patch` output made here (several patches,
/// a non-ASCII author, CRLF line ends); the gate's verdicts on the seed series' picks; the
/// JUnit file; bisect pointing at the commit that introduced each seed bug.</summary>
public sealed class GateTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"vfio-fuzz-gate-{Guid.NewGuid():N}");

    public GateTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static Series SeedSeries => Series.Load(Path.Combine(Repo.Root, "patches-under-test", "nvidia_stable-11.0", "series.yaml"));

    string Git(string repo, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = repo, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["GIT_AUTHOR_DATE"] = psi.Environment["GIT_COMMITTER_DATE"] = "2026-11-24T09:00:00Z";
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
        return output.Trim();
    }

    /// <summary>Two commits by a non-ASCII author, the second with a cherry-pick trailer,
    /// written by `git format-patch --stdout` into one mbox.</summary>
    string MakeMbox(bool crlf)
    {
        string repo = Path.Combine(_dir, "repo");
        Directory.CreateDirectory(repo);
        Git(repo, "init", "-q");
        Git(repo, "config", "user.name", "Zoë Müller-Łukasiewicz");
        Git(repo, "config", "user.email", "zoe@example.com");
        File.WriteAllText(Path.Combine(repo, "listener.c"), "int a;\n");
        Git(repo, "add", "-A");
        Git(repo, "commit", "-q", "-m", "base");
        File.AppendAllText(Path.Combine(repo, "listener.c"), "int b;\n");
        Git(repo, "commit", "-q", "-a", "-m", "listener: first change\n\nWhy it is needed.");
        File.AppendAllText(Path.Combine(repo, "listener.c"), "int c;\n");
        Git(repo, "commit", "-q", "-a", "-m", "listener: second change with a rather long subject line that git folds\n\nMore words.\n\n(cherry picked from commit 0123456789abcdef0123456789abcdef01234567 nvidia_stable-11.0)\nSigned-off-by: Zoë Müller-Łukasiewicz <zoe@example.com>");
        string mbox = Git(repo, "format-patch", "--stdout", "HEAD~2") + "\n";
        if (crlf) mbox = mbox.Replace("\n", "\r\n");
        string path = Path.Combine(_dir, crlf ? "crlf.mbox" : "lf.mbox");
        File.WriteAllText(path, mbox);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Format_patch_output_with_several_patches_and_a_non_ascii_author_parses(bool crlf)
    {
        var patches = PatchMbox.Parse(MakeMbox(crlf));
        Assert.Equal(2, patches.Count);
        Assert.All(patches, p => Assert.Matches("^[0-9a-f]{40}$", p.CommitSha));
        Assert.All(patches, p => Assert.Contains("Zoë Müller-Łukasiewicz", p.Author));
        Assert.Equal("listener: first change", patches[0].Subject);
        Assert.Equal("listener: second change with a rather long subject line that git folds", patches[1].Subject);
        Assert.Empty(patches[0].Trailers);
        Assert.Equal(["(cherry picked from commit 0123456789abcdef0123456789abcdef01234567 nvidia_stable-11.0)", "Signed-off-by: Zoë Müller-Łukasiewicz <zoe@example.com>"],
            patches[1].Trailers);
        Assert.All(patches, p => Assert.StartsWith("diff --git a/listener.c b/listener.c", p.Diff));
        Assert.Equal(1, patches[0].Line);
        Assert.True(patches[1].Line > 10);
    }

    [Theory]
    [InlineData("Subject: x\n\nno mbox line\n", 1, "not an mbox")]
    [InlineData("From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: [PATCH] x\n\nmessage only\n---\n", 1, "no diff")]
    [InlineData("From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\n\nbody\ndiff --git a/x b/x\n", 1, "no Subject")]
    [InlineData("From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: ok\n\nbody\ndiff --git a/x b/x\n\nFrom 0123456789abcdef0123456789abcdef01234568 Mon Sep 17 00:00:00 2001\nSubject: two\n\nbody\ndiff --git a/x b/x\n", 8, "no From")]
    public void A_broken_patch_is_one_error_with_its_file_and_line(string text, int line, string message)
    {
        string path = Path.Combine(_dir, "bad.mbox");
        File.WriteAllText(path, text);
        var e = Assert.Throws<PatchFormatException>(() => PatchMbox.Parse(path));
        Assert.StartsWith($"{path}:{line}: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_patch_whose_text_does_not_decode_is_an_encoding_error()
    {
        string path = Path.Combine(_dir, "latin.mbox");
        var head = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: x\nContent-Type: text/plain; charset=UTF-8\n\nbody \u00ff\n"u8.ToArray();
        File.WriteAllBytes(path, [.. head.Take(head.Length - 4), 0xff, 0xfe, (byte)'\n', .. "diff --git a/x b/x\n"u8.ToArray()]);
        Assert.Contains("does not decode", Assert.Throws<PatchFormatException>(() => PatchMbox.Parse(path)).Message);
    }

    GateResult Gate(string patchFile) =>
        GateRun.Run(Assert.Single(PatchMbox.Parse(patchFile)), SeedSeries, Repo.Catalog,
            new GateOptions(Repo.Corpus, TimeSpan.FromMilliseconds(300), 1, Path.Combine(_dir, "findings")));

    static string SeedPatch(string prefix) =>
        Directory.GetFiles(Path.Combine(Repo.Root, "patches-under-test", "nvidia_stable-11.0"), prefix + "*.patch").Single();

    [Fact]
    public void The_e227a6b_pick_fails_on_an_asymmetric_unmap_with_a_reproducer()
    {
        var r = Gate(SeedPatch("0004"));
        Assert.False(r.Passed);
        var asym = r.Checks.Single(c => c.Name == "no-new-asymmetric-unmap");
        Assert.False(asym.Passed);
        Assert.Contains("asymmetric-unmap:never-mapped:cxl-dpa", asym.Message);
        var regression = r.Regressions.First(g => g.Signature == "asymmetric-unmap:never-mapped:cxl-dpa");
        Assert.True(File.Exists(Path.Combine(Repo.Root, regression.Reproducer)) || File.Exists(regression.Reproducer));
        Assert.True(r.Checks.Single(c => c.Name == "pick-trailer").Passed);
    }

    [Fact]
    public void The_review_fix_pick_passes_the_symmetry_checks()
    {
        var r = Gate(SeedPatch("0005"));
        Assert.True(r.Checks.Single(c => c.Name == "no-new-asymmetric-unmap").Passed);
        Assert.True(r.Passed, string.Join("; ", r.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Message}")));
    }

    [Fact]
    public void A_pick_trailer_without_the_branch_name_fails_that_check_by_name()
    {
        string text = File.ReadAllText(SeedPatch("0001")).Replace(" nvidia_unstable-10.1)", ")");
        string path = Path.Combine(_dir, "no-branch.patch");
        File.WriteAllText(path, text);
        var r = Gate(path);
        var check = r.Checks.Single(c => c.Name == "pick-trailer");
        Assert.False(check.Passed);
        // series.yaml knows d814a45 by its published short SHA: the expected line says so.
        Assert.Contains("expected the line: (cherry picked from commit d814a45f7639<28 more hex digits> nvidia_unstable-10.1)", check.Message);
        Assert.False(r.Passed);
    }

    [Theory]
    [InlineData("0001", true, "d814a45f7639")]          // published short SHA is a prefix of the trailer's
    [InlineData("0002", true, "does not know the source branch")]
    [InlineData("0005", true, "is a proposal")]          // no commit implements it: no trailer expected
    public void Seed_picks_trailers_are_judged_against_what_is_published(string patch, bool passes, string message)
    {
        var check = Gate(SeedPatch(patch)).Checks.Single(c => c.Name == "pick-trailer");
        Assert.Equal(passes, check.Passed);
        Assert.Contains(message, check.Message);
    }

    [Theory]
    [InlineData("d814a45f7639", true)]                               // exactly what is published: nothing padded
    [InlineData("d814a45f76390000000000000000000000000000", true)]  // a real trailer: 40 digits that start with it
    [InlineData("d814a45", false)]                                   // shorter than what is published
    [InlineData("d814a45f7638", false)]                              // another commit
    public void An_abbreviated_trailer_passes_only_as_the_published_short_sha(string sha, bool passes)
    {
        string text = File.ReadAllText(SeedPatch("0001")).Replace("(cherry picked from commit d814a45f7639 ", $"(cherry picked from commit {sha} ");
        string path = Path.Combine(_dir, "abbreviated.patch");
        File.WriteAllText(path, text);
        var check = Gate(path).Checks.Single(c => c.Name == "pick-trailer");
        Assert.Equal(passes, check.Passed);
        if (passes && sha.Length < 40) Assert.Contains("abbreviated as published", check.Message);
    }

    [Theory]
    [InlineData("(cherry picked from commit 0123456789abcdef0123456789abcdef01234567 nvidia_stable-11.0)", true)]
    [InlineData("(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)", false)]   // no branch
    [InlineData("(cherry picked from commit 0123456 nvidia_stable-11.0)", false)]                 // git writes 40 hex digits
    public void A_pick_series_yaml_does_not_list_still_has_its_trailer_judged_by_form(string trailer, bool passes)
    {
        string path = MakeMbox(false);
        File.WriteAllText(path, File.ReadAllText(path).Replace("(cherry picked from commit 0123456789abcdef0123456789abcdef01234567 nvidia_stable-11.0)", trailer));
        var patch = PatchMbox.Parse(path)[1];
        var check = GateRun.Run(patch, SeedSeries, Repo.Catalog, new GateOptions(Repo.Corpus, TimeSpan.Zero, 1, Path.Combine(_dir, "findings")))
            .Checks.Single(c => c.Name == "pick-trailer");
        Assert.Equal(passes, check.Passed);
        Assert.DoesNotContain("cannot check", check.Message);
        if (passes) Assert.Contains("judged by its form only", check.Message);
    }

    [Theory]
    [InlineData("@@ -10,6 +10,11 @@", "@@ -10,6 +10,11 @@ x", 0, "mid-hunk")]     // cut: the last lines of the hunk are gone
    [InlineData("@@ -10,6 +10,11 @@", "@@ -10,6 10,11 @@", -1, "mangled hunk header")]
    [InlineData("@@ -10,6 +10,11 @@", "@@ -10,9 +10,11 @@", 0, "mid-hunk")]    // counts that the hunk cannot satisfy
    public void A_patch_cut_mid_hunk_or_with_a_mangled_hunk_header_is_an_input_error_at_its_line(string find, string replace, int truncate, string message)
    {
        string text = File.ReadAllText(SeedPatch("0001"));
        Assert.Contains(find, text);
        text = text.Replace(find, replace);
        if (truncate == 0) text = text[..text.IndexOf("-- \n", StringComparison.Ordinal)];   // drop the signature so the end of file ends the hunk
        if (replace.EndsWith(" x")) text = string.Join('\n', text.Split('\n')[..^4]) + "\n";
        string path = Path.Combine(_dir, "cut.patch");
        File.WriteAllText(path, text);
        var e = Assert.Throws<PatchFormatException>(() => PatchMbox.Parse(path));
        Assert.Contains(message, e.Message);
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(path)}:\d+: ", e.Message);
        Assert.Equal(2, CliProcess.Run("gate", path, "--branch", "nvidia_stable-11.0", "--fuzz", "1s", "--reports", Path.Combine(_dir, "reports")).ExitCode);
    }

    [Fact]
    public void A_pick_no_series_line_models_fails_instead_of_passing_silently()
    {
        var r = GateRun.Run(Assert.Single(PatchMbox.Parse(MakeMbox(false)).Take(1)), SeedSeries, Repo.Catalog,
            new GateOptions(Repo.Corpus, TimeSpan.Zero, 1, Path.Combine(_dir, "findings")));
        Assert.False(r.Passed);
        Assert.Contains("is not in", r.Checks.Single(c => c.Name == "target-model").Message);
    }

    [Fact]
    public void The_junit_file_has_a_test_case_per_check_with_failures_marked()
    {
        var r = Gate(SeedPatch("0004"));
        var (_, junit) = GateReport.Write(Path.Combine(_dir, "reports"), "nvidia_stable-11.0", r);
        var suite = XDocument.Load(junit).Root!.Element("testsuite")!;
        Assert.Equal(r.Checks.Count, suite.Elements("testcase").Count());
        Assert.Equal(r.Checks.Count(c => !c.Passed).ToString(), suite.Attribute("failures")!.Value);
        Assert.NotNull(suite.Elements("testcase").Single(t => t.Attribute("name")!.Value == "no-new-asymmetric-unmap").Element("failure"));
    }

    [Theory]
    [InlineData("nvlink-aperture-ats.yaml", null, "d814a45", null, "d814a45f7639")]
    [InlineData("cxl-dpa-bar-disable.yaml", "cdf5e75", null, null, "e227a6bc56af")]
    [InlineData("cxl-dpa-reprogram-after-reset.yaml", "d814a45", "2e963ff", "timeout:atc-inv:cxl-type2", "cdf5e75")]
    public void Bisect_points_at_the_commit_that_introduced_each_seed_bug(string entry, string? good, string? bad, string? signature, string upstream)
    {
        var e = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", entry));
        var result = Bisect.Run(SeedSeries, e, Repo.Catalog, good, bad, signature);
        Assert.StartsWith(upstream, result.FirstBad!.UpstreamSha);
        Assert.True(result.Steps.Count >= 2);
    }

    [Fact]
    public void Bisect_refuses_a_bad_commit_that_does_not_fail()
    {
        var e = CorpusFile.Load(Path.Combine(Repo.Corpus, "bugs", "nvlink-aperture-ats.yaml"));
        Assert.Contains("does not show the failure", Assert.Throws<BisectUsageException>(() => Bisect.Run(SeedSeries, e, Repo.Catalog)).Message);
    }
}

using VfioFuzz.Cli;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// The exit-code contract (README "Exit codes"): bad input of every kind is exit 2 with one
/// line on stderr, `file:line: message` where a file is involved; the harness's own failure is
/// exit 3 naming a log file with the stack trace; no stack trace, help text or .NET type name
/// ever reaches the terminal.
/// </summary>
public sealed class ExitCodeTests() : TempFolder("exit")
{
    const string Entry = "corpus/bugs/cxl-dpa-bar-disable.yaml";
    const string Series = "patches-under-test/nvidia_stable-11.0/series.yaml";

    static void AssertInputError(CliProcess.Outcome o, string expected)
    {
        Assert.True(o.ExitCode == 2, $"exit {o.ExitCode}, stderr: {o.Stderr}");
        string line = Assert.Single(o.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("vfio-fuzz: ", line);
        Assert.Contains(expected, line);
        AssertNothingDotnet(o);
    }

    static void AssertNothingDotnet(CliProcess.Outcome o)
    {
        foreach (var text in new[] { o.Stdout, o.Stderr })
        {
            Assert.DoesNotContain("   at ", text);          // a stack trace frame
            Assert.DoesNotContain("System.", text);         // a .NET type name
            Assert.DoesNotContain("Exception", text);
            Assert.DoesNotContain("Usage:", text);          // the whole help text
        }
    }

    [Theory]
    [InlineData("unknown option", "fuzz --bogus", "'--bogus'")]
    [InlineData("unknown subcommand", "bogus", "'bogus'")]
    [InlineData("no subcommand", "", "Required command")]
    [InlineData("missing required option", "run " + Entry, "'--target' is required")]
    [InlineData("seed not a number", "fuzz --seed banana", "--seed: 'banana' is not a whole number")]
    [InlineData("jobs not a number", "fuzz --jobs banana", "--jobs: 'banana' is not a whole number")]
    [InlineData("duration too long", "fuzz --engine inprocess --duration 99999999999h", "--duration '99999999999h' is longer than")]
    [InlineData("unknown option after a path", "replay corpus/bugs --bogus", "unknown option '--bogus'")]
    [InlineData("directory as an entry", "run corpus --target qemu-11.0", "corpus: is a directory")]
    [InlineData("directory as a log", "import-trace corpus", "corpus: is a directory")]
    [InlineData("directory as a series", "bisect --series patches-under-test --entry " + Entry, "patches-under-test: is a directory")]
    [InlineData("directory as a bisect entry", "bisect --series " + Series + " --entry corpus/bugs", "corpus/bugs: is a directory")]
    [InlineData("directory as a cassette", "conformance --cassette corpus/cassettes", "corpus/cassettes: is a directory")]
    [InlineData("directory as a replay cassette", "run " + Entry + " --target qemu-11.0 --backend replay:corpus", "corpus: is a directory")]
    [InlineData("missing file", "run corpus/bugs/no-such-entry.yaml --target qemu-11.0", "no-such-entry.yaml: no such file")]
    [InlineData("realqemu on a missing path", "realqemu corpus/realqemu/no-such.yaml", "no-such.yaml: no such file")]
    [InlineData("differential on the simulator", "fuzz --engine inprocess --differential", "--differential compares the real kernel with the simulator: give --backend iommufd")]
    [InlineData("realqemu with no nested-machine program", "realqemu corpus/bugs", "no program of a nested machine's profile (q35-mbochs, q35-edu)")]
    [InlineData("unknown depth engine", "bench --only depth --depth-engines afl,bogus", "--depth-engines: unknown engine 'bogus' (afl, libfuzzer, guided)")]
    [InlineData("unknown fuzz engine", "fuzz --engine bogus", "unknown engine 'bogus' (afl, libfuzzer, guided, inprocess)")]
    public void Bad_command_lines_are_one_line_and_exit_2(string why, string args, string expected)
    {
        _ = why;
        AssertInputError(CliProcess.Run(args.Split(' ', StringSplitOptions.RemoveEmptyEntries)), expected);
    }

    [Fact]
    public void A_differential_campaign_without_dev_iommu_is_one_line_saying_what_to_do()
    {
        if (File.Exists(VfioFuzz.Iommufd.IommufdIoas.Device)) return;   // a machine with the device: nothing to show here
        var o = CliProcess.Run("fuzz", "--engine", "inprocess", "--backend", "iommufd", "--differential", "--target", "qemu-11.0", "--duration", "1s",
            "--findings", Path.Combine(Dir, "f"), "--reports", Path.Combine(Dir, "r"));
        AssertInputError(o, "/dev/iommu does not exist");
        Assert.Contains("harness/lab/run", o.Stderr);
        Assert.DoesNotContain("fuzz plan", o.Stdout);
    }

    [Fact]
    public void Import_trace_out_naming_aDirectory_is_an_input_error_and_leaves_nothing_there()
    {
        var o = CliProcess.Run("import-trace", "harness/VfioFuzz.Tests/Fixtures/traces/cxl-skip-journald.log", "--out", Dir);
        AssertInputError(o, $"{Dir}: is a directory");
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir));
        Assert.DoesNotContain("FINDING", o.Stdout);   // refused before the work, not after
    }

    [Theory]
    [InlineData("replay")]
    [InlineData("fuzz")]
    public void Reports_folder_that_is_a_file_or_cannot_be_made_is_refused_before_the_work(string command)
    {
        string file = Path.Combine(Dir, "a-file");
        File.WriteAllText(file, "");
        string[] extra = command == "fuzz" ? ["--engine", "inprocess", "--target", "qemu-11.0", "--duration", "1s", "--findings", Path.Combine(Dir, "f")] : [Entry];
        AssertInputError(CliProcess.Run([command, .. extra, "--reports", file]), $"--reports {file}: is a file");
        var under = CliProcess.Run([command, .. extra, "--reports", Path.Combine(file, "sub")]);
        AssertInputError(under, "--reports");
        Assert.DoesNotContain("fuzz plan", under.Stdout);
        Assert.DoesNotContain("as expected", under.Stdout);
    }

    [Theory]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram:\n  - command-mem: {device: cxl0, on: false", "not valid YAML")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram: []\nexpect: !!python/object:os.system {}\n", "YAML tag")]
    [InlineData("id: !<tag:yaml.org,2002:System.IO.FileInfo> x\nprofile: vr-cxl-type2\nprogram: []\n", "YAML tag")]
    [InlineData("id: x\nprofile: vr-cxl-type2\nprogram: []\n---\nid: y\n", "a second YAML document")]
    public void Malformed_yaml_run_from_the_cli_is_file_line_and_exit_2(string text, string expected)
    {
        string path = Path.Combine(Dir, "entry.yaml");
        File.WriteAllText(path, text);
        var o = CliProcess.Run("run", path, "--target", "qemu-11.0");
        AssertInputError(o, expected);
        Assert.Matches($@"^vfio-fuzz: {System.Text.RegularExpressions.Regex.Escape(path)}:\d+: ", o.Stderr);
    }

    [Fact]
    public void An_internal_error_is_exit_3_naming_a_log_with_the_stack_trace()
    {
        Exception thrown;
        try { throw new InvalidOperationException("the model lost a section"); }
        catch (InvalidOperationException e) { thrown = e; }
        string line = ExitContract.Describe(thrown);
        Assert.StartsWith("internal error: the model lost a section (stack trace in ", line);
        string log = line.Split("stack trace in ")[1].Split(';')[0];
        Assert.True(File.Exists(log), log);
        string text = File.ReadAllText(log);
        Assert.Contains("InvalidOperationException", text);
        Assert.Contains("ExitCodeTests", text);   // the throwing frame is there, not on the terminal
        File.Delete(log);
        Assert.Equal(2, ExitContract.ExitCodeOf(new AggregateException(new Yaml.YamlFormatException("f.yaml", 3, "bad"))));
        Assert.Equal(3, ExitContract.ExitCodeOf(new AggregateException(new Yaml.YamlFormatException("f.yaml", 3, "bad"), new NullReferenceException())));
    }

    [Fact]
    public void Replay_names_an_unreadable_corpus_file_and_still_replays_the_rest()
    {
        string corpus = Path.Combine(Dir, "corpus");
        Directory.CreateDirectory(corpus);
        File.Copy(Path.Combine(Repo.Root, Entry), Path.Combine(corpus, "good.yaml"));
        File.WriteAllText(Path.Combine(corpus, "torn.yaml"), "id: torn\nprofile: vr-cxl-type2\nprogram:\n  - command-mem: {device: cxl0, on: false");
        var o = CliProcess.Run("replay", corpus, "--target", "qemu-11.0", "--reports", Path.Combine(Dir, "reports"));
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("torn.yaml:", o.Stderr);
        Assert.Contains("cxl-dpa-bar-disable", o.Stdout);   // the good entry was replayed
        Assert.Contains("1 corpus file(s) could not be loaded", o.Stderr);
        AssertNothingDotnet(o);
    }

    [Fact]
    public void A_second_campaign_on_the_same_target_and_profile_is_refused_not_clobbered()
    {
        string folder = Path.Combine(Repo.Root, ".vfio-fuzz", "afl", "qemu-11.0-gb200-nvlink-dmabuf");
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        using (new FileStream(folder + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))   // the first campaign
        {
            var o = CliProcess.Run("fuzz", "--target", "qemu-11.0", "--profile", "gb200-nvlink", "--duration", "5s",
                "--findings", Path.Combine(Dir, "findings"), "--reports", Path.Combine(Dir, "reports"));
            Assert.Equal(2, o.ExitCode);
            Assert.Contains("another campaign on this target and profile is running there", o.Stderr);
            AssertNothingDotnet(o);
        }
    }
}

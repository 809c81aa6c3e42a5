using System.Collections.Immutable;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Corpus;

/// <summary>
/// Reads and writes corpus entries. Loading checks everything before anything runs: the
/// YAML, the fields, the profile, the expectations' target ids and signatures, and that every
/// op is legal at its point in the program (so a bad step is reported at its line).
/// </summary>
public static class CorpusFile
{
    static readonly string[] Fields = ["id", "description", "profile", "kernel", "container", "program", "expect"];

    public static CorpusEntry Load(string path, IReadOnlyCollection<string>? knownTargets = null)
    {
        string text = InputFile.ReadAllText(path);
        return Parse(path, text, knownTargets);
    }

    public static CorpusEntry Parse(string path, string text, IReadOnlyCollection<string>? knownTargets = null)
    {
        var f = new YamlFields(path);
        var root = f.Mapping(YamlFields.Parse(path, text), "a corpus entry");
        f.OnlyKeys(root, "a corpus entry", Fields);
        string id = f.String(root, "id", "a corpus entry");
        string description = f.Optional(root, "description") is { } d ? f.Scalar(d, "description") : "";
        var profileNode = f.Required(root, "profile", "a corpus entry");
        string? kernel = f.Optional(root, "kernel") is { } k ? f.Scalar(k, "kernel") : null;
        Profile profile;
        try { profile = Profile.Resolve(f.Scalar(profileNode, "profile"), kernel); }
        catch (ArgumentException e) { throw f.Error(profileNode, e.Message); }

        var container = ContainerChoice.Iommufd;
        if (f.Optional(root, "container") is { } containerNode && !ContainerNames.TryParse(f.Scalar(containerNode, "container"), out container))
            throw f.Error(containerNode, $"unknown container '{f.Scalar(containerNode, "container")}' (iommufd, type1, both)");

        var programNode = f.Required(root, "program", "a corpus entry");
        var program = ProgramYaml.FromYaml(programNode, f);
        var opLines = ((YamlSequenceNode)programNode).Children.Select(n => n.Start.Line).ToImmutableArray();
        CheckLegal(program, profile, opLines, f);

        var expect = ImmutableDictionary.CreateBuilder<string, ImmutableSortedSet<string>>();
        if (f.Optional(root, "expect") is { } expectNode)
        {
            foreach (var (keyNode, value) in f.Mapping(expectNode, "expect").Children)
            {
                string target = f.Scalar(keyNode, "a target id in expect");
                if (knownTargets is not null && !knownTargets.Contains(target))
                    throw f.Error(keyNode, $"unknown target '{target}' (known: {string.Join(", ", knownTargets)})");
                expect[target] = Signatures(value, f);
            }
        }
        return new CorpusEntry(path, id, description, profile, program, opLines, expect.ToImmutable(), container);
    }

    /// <summary>`pass`, or a list of finding signatures (kind:detail...).</summary>
    static ImmutableSortedSet<string> Signatures(YamlNode value, YamlFields f)
    {
        if (value is YamlScalarNode { Value: "pass" }) return ImmutableSortedSet<string>.Empty;
        var set = ImmutableSortedSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var item in f.Sequence(value, "an expectation (pass, or a list of signatures)").Children)
        {
            string sig = f.Scalar(item, "a signature");
            if (FindingKinds.Problem(sig) is { } problem) throw f.Error(item, problem);
            set.Add(sig);
        }
        return set.ToImmutable();
    }

    static void CheckLegal(FuzzProgram program, Profile profile, ImmutableArray<long> lines, YamlFields f)
    {
        var world = new World(profile);
        for (int i = 0; i < program.Ops.Length; i++)
        {
            try { world.Apply(program.Ops[i], IgnoreWorldEvents.Instance); }
            catch (ProgramException e) { throw new YamlFormatException(f.File, lines[i], $"step {i + 1}: {e.Message}"); }
        }
    }

    public static string ToYaml(string id, string description, Profile profile, FuzzProgram program,
        IReadOnlyDictionary<string, IReadOnlyCollection<string>> expect, ContainerChoice container = ContainerChoice.Iommufd)
    {
        var root = new YamlMappingNode
        {
            { "id", id },
            { "description", new YamlScalarNode(description) { Style = YamlDotNet.Core.ScalarStyle.Literal } },
            { "profile", profile.Name },
            { "kernel", Profile.KernelName(profile.Kernel) },
        };
        // iommufd is the default: entries on it keep the form they always had.
        if (container != ContainerChoice.Iommufd) root.Add("container", container.Name());
        root.Add("program", ProgramYaml.ToYaml(program));
        var exp = new YamlMappingNode();
        foreach (var (target, sigs) in expect.OrderBy(e => e.Key, StringComparer.Ordinal))
            exp.Add(target, sigs.Count == 0 ? new YamlScalarNode("pass") : new YamlSequenceNode(sigs.Order(StringComparer.Ordinal).Select(s => new YamlScalarNode(s))));
        root.Add("expect", exp);
        return YamlFields.Save(root);
    }

    /// <summary>Every *.yaml under a path (a file or a folder), sorted for a stable order.</summary>
    public static IReadOnlyList<string> Find(string path)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder");
        // cassettes/ and traces/ hold recordings (backend sessions, imported QEMU traces), not programs.
        static bool Recording(string relative) =>
            relative.Split(Path.DirectorySeparatorChar)[..^1].Any(d => d is "cassettes" or "traces");
        return Directory.EnumerateFiles(path, "*.yaml", SearchOption.AllDirectories)
            .Where(f => !Recording(Path.GetRelativePath(path, f)))
            .Order(StringComparer.Ordinal).ToArray();
    }
}

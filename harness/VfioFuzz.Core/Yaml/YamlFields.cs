using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Yaml;

/// <summary>
/// Typed reads from a YAML node tree that fail with the file and line of the offending node,
/// so a hand-edited reproducer with a typo says exactly where.
/// </summary>
public sealed class YamlFields(string file)
{
    public string File { get; } = file;

    public YamlFormatException Error(YamlNode node, string problem) => new(File, node.Start.Line, problem);

    public YamlMappingNode Mapping(YamlNode node, string what) =>
        node as YamlMappingNode ?? throw Error(node, $"{what} must be a mapping");

    public YamlSequenceNode Sequence(YamlNode node, string what) =>
        node as YamlSequenceNode ?? throw Error(node, $"{what} must be a list");

    public YamlNode? Optional(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    public YamlNode Required(YamlMappingNode map, string key, string what) =>
        Optional(map, key) ?? throw Error(map, $"{what} is missing '{key}'");

    public string Scalar(YamlNode node, string what) =>
        node is YamlScalarNode { Value: { } v } ? v : throw Error(node, $"{what} must be a plain value");

    public string String(YamlMappingNode map, string key, string what) => Scalar(Required(map, key, what), $"'{key}' of {what}");

    public ulong UInt64(YamlMappingNode map, string key, string what)
    {
        var node = Required(map, key, what);
        string text = Scalar(node, $"'{key}' of {what}");
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        return ok ? v : throw Error(node, $"'{key}' of {what} must be a number (decimal or 0x hex), not '{text}'");
    }

    public int Int32(YamlMappingNode map, string key, string what)
    {
        ulong v = UInt64(map, key, what);
        return v <= int.MaxValue ? (int)v : throw Error(Required(map, key, what), $"'{key}' of {what} is too large");
    }

    public bool Bool(YamlMappingNode map, string key, string what)
    {
        var node = Required(map, key, what);
        return Scalar(node, $"'{key}' of {what}") switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            var other => throw Error(node, $"'{key}' of {what} must be true or false, not '{other}'"),
        };
    }

    /// <summary>Rejects keys the format does not have: a misspelt key is an error, not a default.</summary>
    public void OnlyKeys(YamlMappingNode map, string what, params string[] keys)
    {
        foreach (var (k, _) in map.Children)
            if (k is not YamlScalarNode { Value: { } name } || Array.IndexOf(keys, name) < 0)
                throw Error(k, $"{what} has no field '{(k as YamlScalarNode)?.Value}' (fields: {string.Join(", ", keys)})");
    }

    /// <summary>Parses YAML text, turning YamlDotNet's syntax errors into file:line errors.</summary>
    public static YamlNode Parse(string file, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new YamlFormatException(file, e.Start.Line, $"not valid YAML: {FirstLine(e.InnerException?.Message ?? e.Message)}");
        }
        if (stream.Documents.Count == 0) throw new YamlFormatException(file, 1, "the file is empty");
        if (stream.Documents.Count > 1)
            throw new YamlFormatException(file, stream.Documents[1].RootNode.Start.Line, "a second YAML document: one file holds one document");
        var root = stream.Documents[0].RootNode;
        RejectTags(file, root);
        return root;
    }

    /// <summary>Every file we read is plain data: a tag (`!!python/object:...`, `!<tag:...>`)
    /// asks a loader to build a type, which ours never does, so it is refused, not ignored.
    /// Anchors and aliases would let one node stand in several places: refused too.</summary>
    static void RejectTags(string file, YamlNode root)
    {
        foreach (var node in root.AllNodes)
        {
            if (!node.Tag.IsEmpty)
                throw new YamlFormatException(file, node.Start.Line, "a YAML tag (!...) is not allowed: these files are plain data");
            if (!node.Anchor.IsEmpty)
                throw new YamlFormatException(file, node.Start.Line, $"YAML anchor '&{node.Anchor}' is not allowed: these files are plain data");
        }
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();

    public static string Hex(ulong v) => $"0x{v:x}";

    public static string Save(YamlNode root)
    {
        var writer = new StringWriter { NewLine = "\n" };
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        string text = writer.ToString();
        // YamlDotNet closes each document with "...": not needed in a single-document file.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }
}

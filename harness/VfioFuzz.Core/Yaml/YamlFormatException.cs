namespace VfioFuzz.Yaml;

/// <summary>Bad input in a YAML file: printed as `file:line: message` (an editor jumps there).</summary>
public sealed class YamlFormatException(string file, long line, string problem)
    : InputException($"{file}:{line}: {problem}")
{
    public string File { get; } = file;
    public long Line { get; } = line;
    public string Problem { get; } = problem;
}

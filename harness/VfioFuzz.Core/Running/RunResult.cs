using VfioFuzz.Oracles;

namespace VfioFuzz.Running;

/// <summary>What one program did on one target: the findings (first of each signature, in
/// the order they happened) and, when asked for, the QEMU-format trace.</summary>
public sealed record RunResult(IReadOnlyList<Finding> Findings, IReadOnlyList<string> Trace, int Steps)
{
    public bool Clean => Findings.Count == 0;

    public IEnumerable<string> Signatures => Findings.Select(f => f.Signature);
}

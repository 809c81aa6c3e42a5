using VfioFuzz.Oracles;

namespace VfioFuzz.Running;

/// <summary>
/// `--container both`: one program, run on the iommufd container and on the type1 container.
/// The verdict is every finding of either run (the first of each signature, iommufd's first),
/// plus, when the two runs' signature sets differ, a container-divergence finding naming the
/// first signature only one side shows. Its signature is
/// container-divergence:&lt;iommufd-only|type1-only&gt;:&lt;that signature&gt;, so one divergence is
/// saved once however often it recurs. The trace holds both runs, each under its own header.
/// </summary>
public static class ContainerDivergence
{
    public static RunResult Judge(RunResult iommufd, RunResult type1, bool trace)
    {
        var onIommufd = iommufd.Signatures.ToHashSet(StringComparer.Ordinal);
        var onType1 = type1.Signatures.ToHashSet(StringComparer.Ordinal);
        var findings = new List<Finding>(iommufd.Findings);
        findings.AddRange(type1.Findings.Where(f => !onIommufd.Contains(f.Signature)));
        var divergence = Divergence(iommufd, onType1, "iommufd-only", type1) ?? Divergence(type1, onIommufd, "type1-only", iommufd);
        if (divergence is not null) findings.Add(divergence);
        IReadOnlyList<string> lines = trace
            ? ["# container iommufd", .. iommufd.Trace, "# container type1", .. type1.Trace]
            : [];
        return new RunResult(findings, lines, Math.Max(iommufd.Steps, type1.Steps));
    }

    /// <summary>The first finding of <paramref name="side"/> whose signature the other run lacks.</summary>
    static Finding? Divergence(RunResult side, HashSet<string> other, string only, RunResult otherRun)
    {
        var first = side.Findings.FirstOrDefault(f => !other.Contains(f.Signature));
        if (first is null) return null;
        string container = only == "iommufd-only" ? "iommufd" : "type1";
        string otherName = only == "iommufd-only" ? "type1" : "iommufd";
        string otherVerdict = otherRun.Findings.Count == 0 ? "no finding" : string.Join(", ", otherRun.Signatures);
        return new Finding(FindingKinds.ContainerDivergence, $"{FindingKinds.ContainerDivergence}:{only}:{first.Signature}", first.Step,
            $"on the {container} container the program shows {first.Signature}; on the {otherName} container it shows {otherVerdict}",
            $"The same listener and the same ops give a different verdict depending on the kernel interface behind the container: " +
            $"the kernel answers differ (type1 maps a BAR by pfn where iommufd without dmabuf refuses it, type1 refuses an unmap that " +
            $"bisects a mapping with EINVAL where iommufd answers ENOENT, type1 unmaps nothing with success), and the listener " +
            $"acts on them. {container}: {first.Summary}",
            first.Effect);
    }
}

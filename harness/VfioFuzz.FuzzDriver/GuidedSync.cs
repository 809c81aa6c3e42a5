/// <summary>
/// What the other instances of a guided campaign kept: the campaign folder holds one folder
/// per instance (i0, i1, ...), and each instance offers its own loop the entries the others
/// wrote to their queue/ since it last looked, as AFL++'s -M/-S instances sync through their
/// output folder. An entry an instance imported itself (named `sync:`) is not passed on again.
/// </summary>
sealed class GuidedSync(string instanceDir)
{
    readonly string _campaignDir = Path.GetDirectoryName(Path.GetFullPath(instanceDir))!;
    readonly string _self = Path.GetFileName(Path.GetFullPath(instanceDir));
    readonly HashSet<string> _seen = [];

    /// <summary>The other instances' queue entries not seen before, each with its instance's name.</summary>
    public IEnumerable<(string From, byte[] Input)> NewEntries()
    {
        foreach (var dir in Directory.GetDirectories(_campaignDir).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir), queue = Path.Combine(dir, "queue");
            if (name == _self || !Directory.Exists(queue)) continue;
            foreach (var file in Directory.GetFiles(queue, "id:*").Order(StringComparer.Ordinal))
                if (!file.Contains(",sync:", StringComparison.Ordinal) && _seen.Add(file))
                    yield return (name, File.ReadAllBytes(file));
        }
    }
}

using System.Reflection;

namespace VfioFuzz.Listener;

/// <summary>
/// Finds every concrete <see cref="ListenerTarget"/> in the given assemblies, so adding a
/// target is adding a file: no registry to edit.
/// </summary>
public sealed class TargetCatalog
{
    readonly Dictionary<string, Func<ListenerTarget>> _factories = new(StringComparer.Ordinal);

    public IReadOnlyList<TargetInfo> Targets { get; }

    public TargetCatalog(params Assembly[] assemblies)
    {
        var infos = new List<TargetInfo>();
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()))
        {
            if (type.IsAbstract || !typeof(ListenerTarget).IsAssignableFrom(type)) continue;
            var ctor = type.GetConstructor(Type.EmptyTypes)
                ?? throw new InvalidOperationException($"target {type.Name} needs a public parameterless constructor");
            ListenerTarget Create() => (ListenerTarget)ctor.Invoke(null);
            var info = Create().Info;
            if (!_factories.TryAdd(info.Id, Create))
                throw new InvalidOperationException($"two targets claim the id '{info.Id}'");
            infos.Add(info);
        }
        infos.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        Targets = infos;
    }

    public bool Contains(string id) => _factories.ContainsKey(id);

    public TargetInfo Info(string id) => Targets.FirstOrDefault(t => t.Id == id)
        ?? throw new ArgumentException($"unknown target '{id}' (known: {string.Join(", ", Targets.Select(t => t.Id))})");

    public ListenerTarget Create(string id) => _factories.TryGetValue(id, out var f)
        ? f()
        : throw new ArgumentException($"unknown target '{id}' (known: {string.Join(", ", Targets.Select(t => t.Id))})");

    /// <summary>Resolves "all" or a comma-separated list to target ids.</summary>
    public IReadOnlyList<string> Select(string spec) => spec == "all"
        ? Targets.Select(t => t.Id).ToArray()
        : spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(id => Contains(id) ? id : throw new ArgumentException($"unknown target '{id}' (known: {string.Join(", ", Targets.Select(t => t.Id))})"))
            .ToArray();
}

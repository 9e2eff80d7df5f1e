namespace SemPPL.GraphGen.Autodiff;

/// <summary>
/// Gradient rules by op type. <see cref="Default"/> holds every rule in this assembly: the rows of
/// <see cref="Rules.ElementwiseRules.Table"/> and every rule class. The ops that deliberately have none are
/// <see cref="OpsWithoutGradient"/>.
/// </summary>
public sealed class GradientRegistry
{
    private readonly Dictionary<string, IGradientRule> _rules = new(StringComparer.Ordinal);

    public static GradientRegistry Default { get; } = CreateDefault();

    public void Register(IGradientRule rule)
    {
        foreach (var op in rule.OpTypes)
            if (!_rules.TryAdd(op, rule))
                throw new InvalidOperationException($"two gradient rules for op '{op}': {_rules[op].GetType().Name} and {rule.GetType().Name}");
    }

    public bool TryGet(string opType, out IGradientRule rule) => _rules.TryGetValue(opType, out rule!);

    public IReadOnlyCollection<string> OpTypes => _rules.Keys;

    // The element-wise table, then every concrete IGradientRule with a parameterless constructor in this assembly, in a fixed order.
    private static GradientRegistry CreateDefault()
    {
        var registry = new GradientRegistry();
        foreach (var row in Rules.ElementwiseRules.Table) registry.Register(row);
        var types = typeof(GradientRegistry).Assembly.GetTypes()
            .Where(t => typeof(IGradientRule).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false } && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        foreach (var t in types) registry.Register((IGradientRule)Activator.CreateInstance(t)!);
        return registry;
    }
}

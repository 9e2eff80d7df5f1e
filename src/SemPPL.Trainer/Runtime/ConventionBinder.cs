namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Binds a graph to state and tensors by the artifact naming convention:
/// an input is a state tensor (read Current, or Next for names under a read-next prefix), `param.X`
/// for state X, or a named tensor from one of the pools; an output `new.X` or `new.param.X` writes
/// state X's Next buffer, other outputs go to a pooled tensor of the same name or are owned by the binding.
/// </summary>
public static class ConventionBinder
{
    public static PingPongBinding Bind(GraphRunner runner, PingPongState state, IReadOnlyList<DeviceState> pools, string? readNextPrefix = null)
    {
        var b = PingPongBinding.For(runner, state);
        foreach (var name in runner.InputNames)
        {
            string stateName = name.StartsWith("param.", StringComparison.Ordinal) ? name["param.".Length..] : name;
            if (state.Contains(stateName))
            {
                if (readNextPrefix is not null && stateName.StartsWith(readNextPrefix, StringComparison.Ordinal)) b.ReadNext(name, stateName);
                else b.ReadCurrent(name, stateName);
            }
            else if (Find(pools, name) is { } t) b.Input(name, t);
            else throw new InvalidOperationException($"graph '{runner.Name}': nothing provides input '{name}' (artifact set and trainer disagree; regenerate the artifacts)");
        }
        foreach (var name in runner.OutputNames)
        {
            if (name.StartsWith("new.", StringComparison.Ordinal))
            {
                string rest = name["new.".Length..];
                string stateName = rest.StartsWith("param.", StringComparison.Ordinal) ? rest["param.".Length..] : rest;
                if (!state.Contains(stateName))
                    throw new InvalidOperationException($"graph '{runner.Name}': output '{name}' updates unknown state '{stateName}'");
                b.WriteNext(name, stateName);
            }
            else if (Find(pools, name) is { } t) b.Output(name, t);
        }
        return b.Build();
    }

    private static DeviceTensor? Find(IReadOnlyList<DeviceState> pools, string name)
    {
        foreach (var p in pools)
            if (p.TryGet(name, out var t)) return t;
        return null;
    }
}

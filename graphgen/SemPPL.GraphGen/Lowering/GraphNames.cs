using Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>The names a graph already uses, and fresh ones for the nodes and constants a lowering adds.</summary>
internal static class GraphNames
{
    /// <summary>Every node output, graph input and initializer name of <paramref name="graph"/>.</summary>
    public static HashSet<string> Of(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Output).Concat(graph.Input.Select(i => i.Name)).Concat(graph.Initializer.Select(i => i.Name)).ToHashSet();

    /// <summary><paramref name="hint"/>, or hint.k with the smallest k not yet in <paramref name="names"/>; added to them.</summary>
    public static string Fresh(HashSet<string> names, string hint)
    {
        string name = hint;
        for (int k = 1; !names.Add(name); k++) name = $"{hint}.{k}";
        return name;
    }
}

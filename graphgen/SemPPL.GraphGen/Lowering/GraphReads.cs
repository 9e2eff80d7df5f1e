using Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>The names a graph still reads: its nodes' inputs (those of subgraph nodes too), its outputs and inputs. A
/// lowering drops the constants outside this set, or ORT warns about each one at session start; and the nodes whose
/// outputs nothing reads any more (a rewritten product's old unfold), so that ORT does not compute them.</summary>
internal static class GraphReads
{
    public static HashSet<string> Of(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Input.Concat(n.Attribute.Where(a => a.G is not null).SelectMany(a => a.G.Node.SelectMany(sn => sn.Input))))
             .Concat(graph.Output.Select(o => o.Name)).Concat(graph.Input.Select(i => i.Name)).ToHashSet();

    /// <summary><paramref name="nodes"/> (in topological order) minus those no graph output depends on.</summary>
    public static List<NodeProto> LiveNodes(List<NodeProto> nodes, GraphProto graph)
    {
        var live = new List<NodeProto>(nodes.Count);
        var read = graph.Output.Select(o => o.Name).ToHashSet();
        for (int i = nodes.Count - 1; i >= 0; i--) // readers come after producers
        {
            var node = nodes[i];
            if (!node.Output.Any(read.Contains)) continue;
            live.Add(node);
            foreach (var input in node.Input) read.Add(input);
            foreach (var a in node.Attribute.Where(a => a.G is not null)) foreach (var n in a.G.Node) foreach (var input in n.Input) read.Add(input);
        }
        live.Reverse();
        return live;
    }

    /// <summary>Keeps the graph's initializers and <paramref name="added"/> that its nodes still read; drops the rest.</summary>
    public static void KeepReadInitializers(GraphProto graph, IEnumerable<TensorProto> added)
    {
        var read = Of(graph);
        var kept = graph.Initializer.Concat(added).Where(i => read.Contains(i.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(kept);
    }
}

using Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>The pass each lowering makes over a graph: every node of the default domain, in order, is kept or replaced
/// by the nodes its rewrite returns; then the graph keeps only the nodes some output still depends on and the constants
/// they read (else ORT computes dead nodes and warns about each unread constant at session start).</summary>
internal static class NodeRewrite
{
    /// <summary>Applies <paramref name="rewrite"/> (null: keep the node) and returns how many replaced nodes
    /// <paramref name="counts"/> (default: all); 0 leaves the graph untouched.</summary>
    public static int Apply(GraphProto graph, NodeEmitter emitter, Func<NodeProto, List<NodeProto>?> rewrite, Func<NodeProto, bool>? counts = null)
    {
        var nodes = new List<NodeProto>(graph.Node.Count);
        int replaced = 0;
        foreach (var node in graph.Node)
        {
            var replacement = node.Domain is "" or "ai.onnx" ? rewrite(node) : null;
            if (replacement is null) { nodes.Add(node); continue; }
            nodes.AddRange(replacement);
            if (counts?.Invoke(node) ?? true) replaced++;
        }
        if (replaced == 0) return 0;
        graph.Node.Clear();
        graph.Node.AddRange(GraphReads.LiveNodes(nodes, graph));
        GraphReads.KeepReadInitializers(graph, emitter.NewInitializers);
        return replaced;
    }
}

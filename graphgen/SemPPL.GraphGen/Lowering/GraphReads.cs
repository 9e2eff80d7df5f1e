using Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>The names a graph still reads: its nodes' inputs (those of subgraph nodes too), its outputs and inputs. A
/// lowering drops the constants outside this set, or ORT warns about each one at session start.</summary>
internal static class GraphReads
{
    public static HashSet<string> Of(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Input.Concat(n.Attribute.Where(a => a.G is not null).SelectMany(a => a.G.Node.SelectMany(sn => sn.Input))))
             .Concat(graph.Output.Select(o => o.Name)).Concat(graph.Input.Select(i => i.Name)).ToHashSet();
}

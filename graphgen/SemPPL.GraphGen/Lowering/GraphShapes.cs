using Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>The static shapes a graph states: those of its inputs, initializers and value_info entries (graphgen writes
/// value_info for the data inputs of convolutions). A lowering rewrites only what these shapes pin down.</summary>
internal static class GraphShapes
{
    public static Dictionary<string, long[]> Known(GraphProto graph)
    {
        var shapes = new Dictionary<string, long[]>();
        foreach (var init in graph.Initializer) shapes[init.Name] = init.Dims.ToArray();
        foreach (var v in graph.Input.Concat(graph.ValueInfo))
        {
            var dims = v.Type?.TensorType?.Shape?.Dim;
            if (dims is null || dims.Any(d => d.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)) continue;
            shapes[v.Name] = dims.Select(d => d.DimValue).ToArray();
        }
        return shapes;
    }
}

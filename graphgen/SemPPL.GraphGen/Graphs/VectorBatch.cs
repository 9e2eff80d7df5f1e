using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Graphs;

/// <summary>
/// One element-wise update of many 1-D tensors as one: each operand concatenated over the tensors, the update applied
/// once, each result split back. On small models an update graph's cost is ORT's per-node overhead, and a ResNet's
/// 1-D tensors (BatchNorm scales, shifts and statistics, biases) are most of its tensors but few of its floats.
/// Element-wise, so the float results are those of the update per tensor.
/// </summary>
public static class VectorBatch
{
    /// <param name="operands">Per tensor, its operands (the same count for each, all of the tensor's length).</param>
    /// <param name="update">The element-wise update: operands in, results out.</param>
    /// <returns>Per tensor, its results (a single tensor is updated as it is: no Concat or Split).</returns>
    public static Value[][] Apply(GraphBuilder g, IReadOnlyList<Value[]> operands, Func<Value[], Value[]> update)
    {
        if (operands.Count == 0) return [];
        if (operands.Count == 1) return [update(operands[0])];
        if (operands.Any(o => o.Length != operands[0].Length || o.Any(v => v.Rank != 1 || v.Shape[0] != o[0].Shape[0])))
            throw new ArgumentException("vector batch: every tensor needs the same number of 1-D operands of its length");
        var sizes = operands.Select(o => o[0].Shape[0]).ToArray();
        var joined = Enumerable.Range(0, operands[0].Length).Select(k => g.Concat(operands.Select(o => o[k]).ToList(), 0)).ToArray();
        var parts = update(joined).Select(r => g.Split(r, 0, sizes)).ToArray();
        return Enumerable.Range(0, operands.Count).Select(i => parts.Select(p => p[i]).ToArray()).ToArray();
    }
}

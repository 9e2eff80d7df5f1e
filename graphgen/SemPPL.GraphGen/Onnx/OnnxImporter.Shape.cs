namespace SemPPL.GraphGen.Onnx;

// Handlers of the shape and indexing ops (GraphBuilder.Shape.cs); integer shape arithmetic is folded first (OnnxImporter.Folding.cs).
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        // Shape, axes, pads and repeats inputs must be constants or computable from static shapes.
        private static void AddShapeHandlers(Dictionary<string, Func<NodeCtx, Value?[]>> h)
        {
            h["Flatten"] = c => [c.G.Flatten(c.V(0), c.Int("axis", 1))];
            h["Reshape"] = c =>
            {
                var x = c.V(0);
                var target = c.ConstInts(1, "shape");
                bool allowZero = c.Int("allowzero", 0) != 0;
                if (allowZero && target.Contains(0)) throw new UnsupportedOnnxOpException("Reshape", c.Node.Name, $"OnnxImporter: {c}: allowzero with a 0 in the shape is not supported");
                return [c.G.Reshape(x, target)];
            };
            h["Transpose"] = c =>
            {
                var x = c.V(0);
                return [c.G.Transpose(x, c.Ints("perm") ?? Enumerable.Range(0, x.Rank).Reverse().Select(i => (long)i).ToArray())];
            };
            h["Concat"] = c => [c.G.Concat(Enumerable.Range(0, c.Node.Input.Count).Where(i => c.Node.Input[i].Length > 0).Select(c.V).ToArray(), c.Int("axis", 0))];
            h["Split"] = c =>
            {
                var x = c.V(0);
                int axis = Shapes.NormAxis(c.Int("axis", 0), x.Rank, "Split");
                long[]? sizes = c.Opset < 13 ? c.Ints("split") : c.ConstIntsOpt(1, "split");
                int n = c.Node.Output.Count;
                if (sizes is null)
                {
                    long dim = x.Shape[axis];
                    long chunk = (dim + n - 1) / n; // opset 18 num_outputs: equal chunks, the last one smaller
                    sizes = Enumerable.Range(0, n).Select(i => Math.Max(0, Math.Min(chunk, dim - i * chunk))).ToArray();
                }
                return c.G.Split(x, axis, sizes);
            };
            h["Slice"] = c =>
            {
                var x = c.V(0);
                var (starts, ends, axes, steps) = c.SliceArgs(x.Rank);
                return [c.G.Slice(x, starts, ends, axes, steps)];
            };
            h["Gather"] = c => [c.G.Gather(c.V(0), c.V(1), c.Int("axis", 0))];
            h["GatherElements"] = c => [c.G.GatherElements(c.V(0), c.V(1), c.Int("axis", 0))];
            h["Squeeze"] = c => [c.G.Squeeze(c.V(0), c.AxesArg(1, "axes") ?? [])];
            h["Unsqueeze"] = c => [c.G.Unsqueeze(c.V(0), c.AxesArg(1, "axes") ?? throw new InvalidDataException($"{c}: Unsqueeze needs axes"))];
            h["Expand"] = c => [c.G.Expand(c.V(0), c.ConstInts(1, "shape"))];
            h["Tile"] = c => [c.G.Tile(c.V(0), c.ConstInts(1, "repeats"))];
            h["Pad"] = c =>
            {
                var x = c.V(0);
                string mode = c.Str("mode") ?? "constant";
                if (mode != "constant") throw new UnsupportedOnnxOpException("Pad", c.Node.Name, $"OnnxImporter: {c}: Pad mode '{mode}' is not supported (only 'constant')");
                long[] given; float value = 0f; long[]? axes = null; Value? runtimeValue = null;
                if (c.Opset < 11) { given = c.Ints("pads") ?? []; value = c.Float("value", 0f); }
                else
                {
                    given = c.ConstInts(1, "pads");
                    if (c.Const(2) is { } cv) value = (float)cv.GetDouble(0);
                    else if (c.HasInput(2)) runtimeValue = c.V(2); // e.g. a scalar initializer turned into an input
                    axes = c.ConstIntsOpt(3, "axes");
                }
                var pads = new long[2 * x.Rank];
                var ax = (axes ?? Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray()).Select(a => Shapes.NormAxis(a, x.Rank, "Pad")).ToArray();
                if (given.Length != 2 * ax.Length) throw new ShapeException($"OnnxImporter: {c}: {given.Length} pads for {ax.Length} axes");
                for (int k = 0; k < ax.Length; k++) { pads[ax[k]] = given[k]; pads[x.Rank + ax[k]] = given[k + ax.Length]; }
                if (runtimeValue is null) return [c.G.Pad(x, pads, value)];
                // A run-time padding value (e.g. a scalar initializer turned into an input): same node, value as an input.
                if (runtimeValue.Type != x.Type) throw new ShapeException($"OnnxImporter: {c}: padding value {runtimeValue.Describe()} does not match {x.Describe()}");
                var scalar = runtimeValue.Rank == 0 ? runtimeValue : c.G.Reshape(runtimeValue);
                var shape = x.Shape.Select((d, i) => d < 0 ? -1 : d + pads[i] + pads[i + x.Rank]).ToArray();
                return [c.G.AddNode1("Pad", [x, c.G.Int64s(pads), scalar], x.Type, shape)];
            };
            h["ConstantOfShape"] = c =>
            {
                var shape = c.ConstInts(0, "shape");
                var value = c.TensorAttr("value") ?? HostTensor.Float([1], [0f]);
                return [c.G.Filled(value.Type, value.GetDouble(0), shape)];
            };
        }
    }
}

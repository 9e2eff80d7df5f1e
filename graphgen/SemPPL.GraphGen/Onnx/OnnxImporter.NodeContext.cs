using Onnx;

namespace SemPPL.GraphGen.Onnx;

// What an op handler sees of one node: its inputs, constants and attributes.
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        internal sealed class NodeCtx(Session s, NodeProto node)
        {
            private readonly Dictionary<string, AttributeProto> _attrs = node.Attribute.ToDictionary(a => a.Name, StringComparer.Ordinal);

            public Session S { get; } = s;
            public NodeProto Node { get; } = node;
            public GraphBuilder G => S._g;
            public int Opset => S._opset;

            public override string ToString() => $"{Node.OpType} node '{Node.Name}'";

            public bool HasInput(int i) => i < Node.Input.Count && Node.Input[i].Length > 0;

            public Value V(int i)
            {
                if (!HasInput(i)) throw new InvalidDataException($"OnnxImporter: {this}: input {i} is missing");
                string name = Node.Input[i];
                if (Node.OpType != "BatchNormalization") S._usedOtherwise.Add(name);
                return S.Get(name) ?? throw new InvalidDataException($"OnnxImporter: {this}: input '{name}' is computed by no earlier node");
            }

            public Value? VOpt(int i) => HasInput(i) ? V(i) : null;

            public HostTensor? Const(int i) => HasInput(i) && S._consts.TryGetValue(Node.Input[i], out var t) ? t : null;

            public long[] ConstInts(int i, string what) =>
                ConstIntsOpt(i, what) ?? throw new InvalidDataException($"OnnxImporter: {this}: input {i} ({what}) is required");

            public long[]? ConstIntsOpt(int i, string what)
            {
                if (!HasInput(i)) return null;
                var t = Const(i) ?? throw new NotSupportedException(
                    $"OnnxImporter: {this}: input {i} ({what}, '{Node.Input[i]}') must be a constant or computable from static shapes; it is computed at run time");
                return ImportFolding.Longs(t);
            }

            /// <summary>Axes given as an attribute (older opsets) or as input i (newer ones).</summary>
            public long[]? AxesArg(int i, string attr) => Ints(attr) ?? ConstIntsOpt(i, attr);

            public bool Has(string name) => _attrs.ContainsKey(name);
            public long Int(string name, long fallback) => _attrs.TryGetValue(name, out var a) ? a.I : fallback;
            public float Float(string name, float fallback) => _attrs.TryGetValue(name, out var a) ? a.F : fallback;
            public long[]? Ints(string name) => _attrs.TryGetValue(name, out var a) ? a.Ints.ToArray() : null;
            public string? Str(string name) => _attrs.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : null;
            public HostTensor? TensorAttr(string name) => _attrs.TryGetValue(name, out var a) && a.T is not null ? HostTensor.FromProto(a.T, S._o.ExternalDataFolder) : null;

            public HostTensor ConstantAttr()
            {
                if (TensorAttr("value") is { } t) return t;
                if (_attrs.TryGetValue("value_float", out var f)) return HostTensor.Float([], [f.F]);
                if (_attrs.TryGetValue("value_floats", out var fs)) return HostTensor.Float([fs.Floats.Count], fs.Floats.ToArray());
                if (_attrs.TryGetValue("value_int", out var n)) return HostTensor.Int64([], [n.I]);
                if (_attrs.TryGetValue("value_ints", out var ns)) return HostTensor.Int64([ns.Ints.Count], ns.Ints.ToArray());
                throw new UnsupportedOnnxOpException("Constant", Node.Name, $"OnnxImporter: {this}: only tensor, float(s) and int(s) constants are supported");
            }

            public (long[] Starts, long[] Ends, long[] Axes, long[] Steps) SliceArgs(int rank)
            {
                long[] starts, ends; long[]? axes, steps;
                if (Opset < 10) { starts = Ints("starts")!; ends = Ints("ends")!; axes = Ints("axes"); steps = null; }
                else { starts = ConstInts(1, "starts"); ends = ConstInts(2, "ends"); axes = ConstIntsOpt(3, "axes"); steps = ConstIntsOpt(4, "steps"); }
                axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
                return (starts, ends, axes, steps);
            }

            public void CheckKernel(Value w)
            {
                if (Ints("kernel_shape") is { } k && !k.SequenceEqual(w.Shape.Skip(2)))
                    throw new ShapeException($"OnnxImporter: {this}: kernel_shape {Shapes.Str(k)} does not match the weight {w.Describe()}");
            }

            /// <summary>strides, explicit pads (auto_pad resolved) and dilations of a 2-D window op.</summary>
            public (long[] Strides, long[] Pads, long[] Dilations) Window(Value x, long[] kernel)
            {
                int n = kernel.Length;
                var strides = Ints("strides") ?? Enumerable.Repeat(1L, n).ToArray();
                var dilations = Ints("dilations") ?? Enumerable.Repeat(1L, n).ToArray();
                string autoPad = Str("auto_pad") ?? "NOTSET";
                long[] pads;
                switch (autoPad)
                {
                    case "NOTSET" or "": pads = Ints("pads") ?? new long[2 * n]; break;
                    case "VALID": pads = new long[2 * n]; break;
                    case "SAME_UPPER" or "SAME_LOWER":
                        pads = new long[2 * n];
                        for (int i = 0; i < n; i++)
                        {
                            long input = x.Shape[2 + i];
                            long output = (input + strides[i] - 1) / strides[i];
                            long total = Math.Max(0, (output - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - input);
                            long small = total / 2, big = total - small;
                            (pads[i], pads[n + i]) = autoPad == "SAME_UPPER" ? (small, big) : (big, small);
                        }
                        break;
                    default: throw new InvalidDataException($"OnnxImporter: {this}: auto_pad '{autoPad}'");
                }
                return (strides, pads, dilations);
            }

            public Value?[] Reduce(Func<GraphBuilder, Value, long[]?, bool, Value> f, int axesAsInputFrom)
            {
                var x = V(0);
                var axes = Opset < axesAsInputFrom ? Ints("axes") : ConstIntsOpt(1, "axes");
                if ((axes is null || axes.Length == 0) && Int("noop_with_empty_axes", 0) != 0) return [x];
                return [f(G, x, axes, Int("keepdims", 1) != 0)];
            }

            public Value Softmax(bool log)
            {
                var x = V(0);
                if (Opset >= 13)
                {
                    long axis = Int("axis", -1);
                    return log ? G.LogSoftmax(x, axis) : G.Softmax(x, axis);
                }
                // Opset < 13: the input is coerced to 2-D at axis (default 1) and normalised over the second dimension.
                int a = (int)Int("axis", 1); if (a < 0) a += x.Rank;
                if (a == x.Rank - 1) return log ? G.LogSoftmax(x, -1) : G.Softmax(x, -1);
                var flat = G.Flatten(x, a);
                var y = log ? G.LogSoftmax(flat, -1) : G.Softmax(flat, -1);
                return G.Reshape(y, x.Shape);
            }
        }
    }
}

using Onnx;

namespace SemPPL.GraphGen.Onnx;

// Host evaluation of integer shape arithmetic: nodes whose inputs are all known constants (or, for Shape, a static shape) leave no node behind.
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        private static readonly HashSet<string> Foldable =
        [
            "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Gather", "Concat", "Slice", "Cast",
            "Add", "Sub", "Mul", "Div", "Neg", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Max", "Min",
            "And", "Or", "Not", "Where", "Range", "ConstantOfShape", "Expand", "Tile",
        ];

        /// <summary>Evaluates integer shape arithmetic on the host when every input is a known constant (or, for Shape, a static shape).</summary>
        private bool TryFold(NodeCtx c)
        {
            var node = c.Node;
            if (node.OpType == "Constant")
            {
                _consts[node.Output[0]] = c.ConstantAttr();
                return true;
            }
            if (node.OpType == "Shape")
            {
                var x = c.V(0);
                if (!x.IsStatic) return false;
                int r = x.Rank;
                long start = c.Int("start", 0), end = c.Int("end", r);
                start = Math.Clamp(start < 0 ? start + r : start, 0, r);
                end = Math.Clamp(end < 0 ? end + r : end, 0, r);
                _consts[node.Output[0]] = HostTensor.Int64([Math.Max(0, end - start)], x.Shape.Skip((int)start).Take((int)Math.Max(0, end - start)).ToArray());
                return true;
            }
            if (!Foldable.Contains(node.OpType)) return false;
            var ins = new HostTensor?[node.Input.Count];
            for (int i = 0; i < ins.Length; i++)
            {
                if (node.Input[i].Length == 0) continue;
                if (!_consts.TryGetValue(node.Input[i], out var t)) return false;
                ins[i] = t;
            }
            if (ins.Length == 0 || ins[0] is null) return false;
            // Identity aliases any constant; everything else folds integer tensors only (shape arithmetic).
            if (node.OpType == "Identity") { _consts[node.Output[0]] = ins[0]!; return true; }
            if (ins.Any(t => t is not null && (!ImportFolding.IsInteger(t.Type) || t.ElementCount > ImportFolding.MaxElements))) return false;
            var result = Fold(c, ins);
            if (result is null || result.ElementCount > ImportFolding.MaxElements || !ImportFolding.IsInteger(result.Type)) return false;
            _consts[node.Output[0]] = result;
            return true;
        }

        private HostTensor? Fold(NodeCtx c, HostTensor?[] x)
        {
            var a = x[0]!;
            switch (c.Node.OpType)
            {
                case "Reshape":
                    return ImportFolding.Reshape(a, ReshapeTarget(a.Shape, ImportFolding.Longs(x[1]!), c.Int("allowzero", 0) != 0));
                case "Flatten":
                {
                    int axis = (int)c.Int("axis", 1); if (axis < 0) axis += a.Shape.Length;
                    return ImportFolding.Reshape(a, [Shapes.Product(a.Shape.Take(axis)), Shapes.Product(a.Shape.Skip(axis))]);
                }
                case "Squeeze":
                {
                    var axes = c.AxesArg(1, "axes")?.Select(v => Shapes.NormAxis(v, a.Shape.Length, "Squeeze")).ToHashSet()
                               ?? Enumerable.Range(0, a.Shape.Length).Where(i => a.Shape[i] == 1).ToHashSet();
                    return ImportFolding.Reshape(a, a.Shape.Where((_, i) => !axes.Contains(i)).ToArray());
                }
                case "Unsqueeze":
                {
                    var axes = c.AxesArg(1, "axes") ?? throw new InvalidDataException($"{c}: Unsqueeze without axes");
                    int r = a.Shape.Length + axes.Length;
                    var norm = axes.Select(v => Shapes.NormAxis(v, r, "Unsqueeze")).ToHashSet();
                    var shape = new long[r]; int j = 0;
                    for (int i = 0; i < r; i++) shape[i] = norm.Contains(i) ? 1 : a.Shape[j++];
                    return ImportFolding.Reshape(a, shape);
                }
                case "Transpose":
                    return ImportFolding.Transpose(a, c.Ints("perm") ?? Enumerable.Range(0, a.Shape.Length).Reverse().Select(i => (long)i).ToArray());
                case "Gather":
                    return ImportFolding.Gather(a, x[1]!, Shapes.NormAxis(c.Int("axis", 0), a.Shape.Length, "Gather"));
                case "Concat":
                    return ImportFolding.Concat(x.Select(t => t!).ToArray(), Shapes.NormAxis(c.Int("axis", 0), a.Shape.Length, "Concat"));
                case "Slice":
                {
                    var (starts, ends, axes, steps) = c.SliceArgs(a.Shape.Length);
                    return ImportFolding.Slice(a, starts, ends, axes, steps);
                }
                case "Cast":
                    return ImportFolding.Cast(a, ToDType((int)c.Int("to", 0), c.ToString()));
                case "Neg":
                    return ImportFolding.Binary("Sub", ImportFolding.Cast(HostTensor.Int64([], [0]), a.Type), a);
                case "Not":
                    return HostTensor.Bool(a.Shape, ImportFolding.Longs(a).Select(v => v == 0).ToArray());
                case "Where":
                    return ImportFolding.Where(a, x[1]!, x[2]!);
                case "Range":
                    return ImportFolding.Range(a, x[1]!, x[2]!);
                case "ConstantOfShape":
                {
                    var value = c.TensorAttr("value") ?? HostTensor.Float([1], [0f]);
                    if (!ImportFolding.IsInteger(value.Type)) return null;
                    return ImportFolding.Filled(value, ImportFolding.Longs(a));
                }
                case "Expand":
                {
                    var shape = Shapes.TryBroadcast(a.Shape, ImportFolding.Longs(x[1]!)) ?? throw new ShapeException($"{c}: cannot expand {Shapes.Str(a.Shape)}");
                    return ImportFolding.Binary("Add", a, ImportFolding.Cast(HostTensor.Int64(shape, new long[Shapes.Product(shape)]), a.Type));
                }
                case "Tile":
                {
                    var reps = ImportFolding.Longs(x[1]!);
                    var t = a;
                    for (int i = 0; i < reps.Length; i++)
                        if (reps[i] != 1) t = ImportFolding.Concat(Enumerable.Repeat(t, (int)reps[i]).ToArray(), i);
                    return t;
                }
                case "Max" or "Min" or "Add" or "Sub" or "Mul" or "Div" or "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or":
                {
                    var r = a;
                    for (int i = 1; i < x.Length; i++) r = ImportFolding.Binary(c.Node.OpType, r, x[i]!);
                    return r;
                }
                default:
                    return null;
            }
        }

        internal static long[] ReshapeTarget(long[] input, long[] target, bool allowZero)
        {
            var o = (long[])target.Clone();
            if (!allowZero)
                for (int i = 0; i < o.Length; i++) if (o[i] == 0) o[i] = input[i];
            int unknown = Array.IndexOf(o, -1L);
            if (unknown >= 0)
            {
                long known = o.Where(d => d != -1).Aggregate(1L, (p, d) => p * d);
                o[unknown] = known == 0 ? 0 : Shapes.Product(input) / known;
            }
            return o;
        }

        // Folded when their inputs are constants (TryFold); the handler only runs, with a clear error, when they are not.
        private static void AddHostOnlyHandlers(Dictionary<string, Func<NodeCtx, Value?[]>> h)
        {
            h["Shape"] = c => throw new ShapeException($"OnnxImporter: {c}: Shape of a value with dynamic dimensions {c.V(0).Describe()}: fix them in ImportOptions");
            h["Constant"] = c => throw new InvalidOperationException("Constant nodes are folded");
            h["Range"] = c => throw new NotSupportedException($"OnnxImporter: {c}: Range needs constant inputs");
        }
    }
}

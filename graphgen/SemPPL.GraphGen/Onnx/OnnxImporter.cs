using Onnx;
using SemPPL.GraphGen.Layers;

namespace SemPPL.GraphGen.Onnx;

/// <summary>
/// Loads an ONNX model (e.g. exported by PyTorch) into a <see cref="GraphBuilder"/>: graph inputs get
/// the static shapes the caller fixes, initializers stay constants or become graph inputs (trainable
/// parameters), and each node is replayed through the builder's op methods, so shapes are inferred
/// and checked as the graph is built and graphgen's autodiff can differentiate the result.
/// Shape arithmetic on static shapes (Shape, Gather, Unsqueeze, Concat, ... of integers) is evaluated
/// on the host and leaves no node behind.
/// </summary>
public static class OnnxImporter
{
    /// <summary>Highest default-domain opset whose semantics the importer knows.</summary>
    public const int MaxOpset = 22;

    public static ModelProto Load(string path) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));

    /// <summary>Imports the model file into a new builder (opset <see cref="GraphBuilder.DefaultOpset"/>).</summary>
    public static ImportResult Import(string path, ImportOptions? options = null)
    {
        options ??= new ImportOptions();
        if (options.ExternalDataFolder is null) options = options with { ExternalDataFolder = Path.GetDirectoryName(Path.GetFullPath(path)) };
        return Import(Load(path), options);
    }

    /// <summary>Imports the model into a new builder named after the model's graph.</summary>
    public static ImportResult Import(ModelProto model, ImportOptions? options = null) =>
        Import(new GraphBuilder(string.IsNullOrEmpty(model.Graph?.Name) ? "imported" : model.Graph.Name), model, options);

    /// <summary>Imports the model into an existing builder (bind its inputs with <see cref="ImportOptions.InputBindings"/>).</summary>
    public static ImportResult Import(GraphBuilder g, ModelProto model, ImportOptions? options = null) =>
        new Session(g, model, options ?? new ImportOptions()).Run();

    /// <summary>The op types the importer replays, sorted.</summary>
    public static IReadOnlyList<string> SupportedOps { get; } = Session.Handlers.Keys.Order(StringComparer.Ordinal).ToArray();

    private sealed class Session
    {
        private readonly GraphBuilder _g;
        private readonly ModelProto _model;
        private readonly ImportOptions _o;
        private readonly int _opset;
        private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, HostTensor> _consts = new(StringComparer.Ordinal);
        private readonly HashSet<string> _keptInitializers = new(StringComparer.Ordinal);
        private readonly Dictionary<Value, HostTensor> _initialValues = [];
        private readonly List<(string Name, Value Value)> _paramInputs = [];
        private readonly HashSet<string> _usedAsStat = new(StringComparer.Ordinal);
        private readonly HashSet<string> _usedOtherwise = new(StringComparer.Ordinal);
        private readonly List<RunningStatUpdate> _updates = [];

        public Session(GraphBuilder g, ModelProto model, ImportOptions options)
        {
            _g = g; _model = model; _o = options;
            if (model.Graph is null) throw new InvalidDataException("ONNX model has no graph");
            var def = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
            _opset = def is null ? 1 : (int)def.Version;
            if (_opset > MaxOpset)
                throw new NotSupportedException($"OnnxImporter: the model uses opset {_opset}; the importer knows the default domain up to opset {MaxOpset}");
        }

        public ImportResult Run()
        {
            var graph = _model.Graph;
            var initializerNames = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);

            foreach (var init in graph.Initializer)
            {
                var data = HostTensor.FromProto(init, _o.ExternalDataFolder);
                bool asInput = _o.InitializersAsInputs && (_o.InitializerAsInput?.Invoke(init.Name, data) ?? data.Type.IsFloating());
                if (asInput)
                {
                    var v = _g.Input(_o.NamePrefix + init.Name, data.Type, data.Shape);
                    _values[init.Name] = v;
                    _initialValues[v] = data;
                    _paramInputs.Add((init.Name, v));
                }
                else
                {
                    _consts[init.Name] = data;
                    _keptInitializers.Add(init.Name);
                }
            }

            var inputs = new List<Value>();
            foreach (var vi in graph.Input)
            {
                if (initializerNames.Contains(vi.Name)) continue; // IR < 4: initializers are listed as inputs too
                var v = ImportInput(vi);
                _values[vi.Name] = v;
                inputs.Add(v);
            }

            foreach (var node in graph.Node) ReplayNode(node);

            var outputs = new List<Value>();
            foreach (var vo in graph.Output)
            {
                var v = Get(vo.Name) ?? throw new InvalidDataException($"OnnxImporter: graph output '{vo.Name}' is computed by no node");
                CheckDeclared(vo, v, "graph output");
                if (_o.MarkOutputs) v = _g.Output(v, _o.NamePrefix + vo.Name);
                _values[vo.Name] = v;
                outputs.Add(v);
            }
            foreach (var vi in graph.ValueInfo)
                if (_values.TryGetValue(vi.Name, out var v)) CheckDeclared(vi, v, "value");

            if (_o.RunningStatsAsOutputs)
                foreach (var u in _updates)
                    if (!_g.Outputs.Contains(u.Updated)) _g.Output(u.Updated, _o.NamePrefix + u.Name + ".updated");

            return new ImportResult(_g, Get)
            {
                Values = _values,
                Constants = _consts,
                Inputs = inputs,
                Outputs = outputs,
                Parameters = _paramInputs.Where(p => !(_usedAsStat.Contains(p.Name) && !_usedOtherwise.Contains(p.Name))).Select(p => p.Value).ToList(),
                RunningStats = _paramInputs.Where(p => _usedAsStat.Contains(p.Name) && !_usedOtherwise.Contains(p.Name)).Select(p => p.Value).ToList(),
                InitialValues = _initialValues,
                RunningStatUpdates = _updates,
            };
        }

        // ------------------------------------------------------------ inputs and values

        private Value ImportInput(ValueInfoProto vi)
        {
            var tt = vi.Type?.TensorType ?? throw new NotSupportedException($"OnnxImporter: input '{vi.Name}' is not a tensor");
            var type = ToDType(tt.ElemType, $"input '{vi.Name}'");
            long[]? declared = tt.Shape is null ? null : tt.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray();
            long[] shape;
            if (_o.InputShapes.TryGetValue(vi.Name, out var given))
            {
                if (declared is not null && (declared.Length != given.Length || declared.Where((d, i) => d >= 0 && d != given[i]).Any()))
                    throw new ShapeException($"OnnxImporter: input '{vi.Name}' has shape {Shapes.Str(given)} in ImportOptions.InputShapes, but the model declares {DescribeShape(tt.Shape!)}");
                shape = given;
            }
            else
            {
                if (tt.Shape is null) throw new ShapeException($"OnnxImporter: input '{vi.Name}' has no shape in the model: give it in ImportOptions.InputShapes");
                shape = tt.Shape.Dim.Select((d, i) =>
                {
                    if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue) return d.DimValue;
                    if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam && _o.DimValues.TryGetValue(d.DimParam, out var n)) return n;
                    if (_o.AllowDynamicDims) return -1L;
                    string what = d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? $"'{d.DimParam}'" : "unnamed";
                    throw new ShapeException($"OnnxImporter: input '{vi.Name}' dimension {i} ({what}) is dynamic: give its size in ImportOptions.DimValues or the input's shape in ImportOptions.InputShapes");
                }).ToArray();
            }
            if (_o.InputBindings.TryGetValue(vi.Name, out var bound))
            {
                if (bound.Graph != _g) throw new ArgumentException($"OnnxImporter: binding for input '{vi.Name}' belongs to another graph");
                if (bound.Type != type || bound.Rank != shape.Length || shape.Where((d, i) => d >= 0 && bound.Shape[i] >= 0 && d != bound.Shape[i]).Any())
                    throw new ShapeException($"OnnxImporter: input '{vi.Name}' is {type.ToString().ToLowerInvariant()}{Shapes.Str(shape)}, but its binding is {bound.Describe()}");
                return bound;
            }
            return _g.Input(_o.NamePrefix + vi.Name, type, shape);
        }

        private void CheckDeclared(ValueInfoProto vi, Value v, string what)
        {
            var tt = vi.Type?.TensorType;
            if (tt is null) return;
            if (tt.ElemType != 0 && tt.ElemType != (int)v.Type)
                throw new ShapeException($"OnnxImporter: {what} '{vi.Name}' is {v.Describe()} here, but the model declares element type {tt.ElemType}");
            if (tt.Shape is null) return;
            bool mismatch = tt.Shape.Dim.Count != v.Rank;
            for (int i = 0; !mismatch && i < v.Rank; i++)
            {
                var d = tt.Shape.Dim[i];
                long expected = d.ValueCase switch
                {
                    TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue,
                    TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when _o.DimValues.TryGetValue(d.DimParam, out var n) => n,
                    _ => -1,
                };
                if (expected >= 0 && v.Shape[i] >= 0 && expected != v.Shape[i]) mismatch = true;
            }
            if (mismatch)
                throw new ShapeException($"OnnxImporter: {what} '{vi.Name}' has inferred shape {Shapes.Str(v.Shape)}, but the model declares {DescribeShape(tt.Shape)}");
        }

        private static string DescribeShape(TensorShapeProto s) =>
            "[" + string.Join(",", s.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString() : d.DimParam.Length > 0 ? d.DimParam : "?")) + "]";

        /// <summary>The builder value of an ONNX name, materialising a host constant on first use.</summary>
        private Value? Get(string name)
        {
            if (_values.TryGetValue(name, out var v)) return v;
            if (!_consts.TryGetValue(name, out var t)) return null;
            string wanted = _o.NamePrefix + name;
            v = _keptInitializers.Contains(name) && !_g.HasName(wanted)
                ? _g.Initializer(wanted, t)
                : _g.Constant(t, Hint(name));
            _values[name] = v;
            return v;
        }

        private static string Hint(string name)
        {
            var chars = name.Select(c => char.IsLetterOrDigit(c) || c is '.' or '_' ? c : '_').ToArray();
            var s = new string(chars).Trim('_');
            return s.Length == 0 ? "const" : s;
        }

        // ------------------------------------------------------------ nodes

        internal static readonly Dictionary<string, Func<NodeCtx, Value?[]>> Handlers = BuildHandlers();

        private static readonly HashSet<string> Foldable =
        [
            "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Gather", "Concat", "Slice", "Cast",
            "Add", "Sub", "Mul", "Div", "Neg", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Max", "Min",
            "And", "Or", "Not", "Where", "Range", "ConstantOfShape", "Expand", "Tile",
        ];

        private void ReplayNode(NodeProto node)
        {
            var ctx = new NodeCtx(this, node);
            if (node.Domain is not ("" or "ai.onnx") || !Handlers.TryGetValue(node.OpType, out var handler))
                throw Unsupported(node, node.Domain is "" or "ai.onnx" ? "" : $" (domain '{node.Domain}')");
            try
            {
                if (TryFold(ctx)) return;
                var outs = handler(ctx);
                for (int i = 0; i < node.Output.Count; i++)
                {
                    if (node.Output[i].Length == 0) continue;
                    var v = i < outs.Length ? outs[i] : null;
                    if (v is null)
                    {
                        if (IsUsed(node.Output[i])) throw new UnsupportedOnnxOpException(node.OpType, node.Name, $"OnnxImporter: {ctx}: output {i} ('{node.Output[i]}') is not supported");
                        continue;
                    }
                    _values[node.Output[i]] = v;
                }
            }
            catch (ShapeException e) when (!e.Message.StartsWith("OnnxImporter", StringComparison.Ordinal))
            {
                throw new ShapeException($"OnnxImporter: {ctx}: {e.Message}");
            }
        }

        private bool IsUsed(string name) =>
            _model.Graph.Node.Any(n => n.Input.Contains(name)) || _model.Graph.Output.Any(o => o.Name == name);

        private static UnsupportedOnnxOpException Unsupported(NodeProto node, string extra = "") =>
            new(node.OpType, node.Name,
                $"OnnxImporter: op '{node.OpType}'{extra} (node '{node.Name}') is not supported; supported ops: {string.Join(", ", SupportedOps)}");

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

        // ------------------------------------------------------------ op handlers

        private static Dictionary<string, Func<NodeCtx, Value?[]>> BuildHandlers()
        {
            var h = new Dictionary<string, Func<NodeCtx, Value?[]>>(StringComparer.Ordinal);
            void Unary(string op, Func<GraphBuilder, Value, Value> f) => h[op] = c => [f(c.G, c.V(0))];
            void Binary(string op, Func<GraphBuilder, Value, Value, Value> f) => h[op] = c => [f(c.G, c.V(0), c.V(1))];
            void Variadic(string op, Func<GraphBuilder, Value, Value, Value> f) =>
                h[op] = c => [Enumerable.Range(1, c.Node.Input.Count - 1).Aggregate(c.V(0), (acc, i) => f(c.G, acc, c.V(i)))];

            Unary("Relu", (g, x) => g.Relu(x));
            Unary("Sigmoid", (g, x) => g.Sigmoid(x));
            Unary("Tanh", (g, x) => g.Tanh(x));
            Unary("Neg", (g, x) => g.Neg(x));
            Unary("Exp", (g, x) => g.Exp(x));
            Unary("Log", (g, x) => g.Log(x));
            Unary("Sqrt", (g, x) => g.Sqrt(x));
            Unary("Abs", (g, x) => g.Abs(x));
            Unary("Sign", (g, x) => g.Sign(x));
            Unary("Reciprocal", (g, x) => g.Reciprocal(x));
            Unary("Floor", (g, x) => g.Floor(x));
            Unary("Not", (g, x) => g.Not(x));
            h["Identity"] = c => [c.V(0)];
            Binary("Sub", (g, a, b) => g.Sub(a, b));
            Binary("Div", (g, a, b) => g.Div(a, b));
            Binary("Pow", (g, a, b) => g.Pow(a, b));
            Binary("Equal", (g, a, b) => g.Equal(a, b));
            Binary("Greater", (g, a, b) => g.Greater(a, b));
            Binary("Less", (g, a, b) => g.Less(a, b));
            Binary("GreaterOrEqual", (g, a, b) => g.GreaterOrEqual(a, b));
            Binary("LessOrEqual", (g, a, b) => g.LessOrEqual(a, b));
            Binary("And", (g, a, b) => g.And(a, b));
            Binary("Or", (g, a, b) => g.Or(a, b));
            Binary("Add", (g, a, b) => g.Add(a, b));
            Binary("Mul", (g, a, b) => g.Mul(a, b));
            Variadic("Max", (g, a, b) => g.Max(a, b));
            Variadic("Min", (g, a, b) => g.Min(a, b));
            h["Sum"] = c => [c.G.Sum(Enumerable.Range(0, c.Node.Input.Count).Select(c.V).ToArray())];
            h["Where"] = c => [c.G.Where(c.V(0), c.V(1), c.V(2))];
            h["Cast"] = c => [c.G.Cast(c.V(0), ToDType((int)c.Int("to", 0), c.ToString()))];
            h["Clip"] = c =>
            {
                if (c.Opset < 11)
                {
                    float lo = c.Float("min", float.MinValue), hi = c.Float("max", float.MaxValue);
                    return [c.G.Clip(c.V(0), c.Has("min") ? lo : null, c.Has("max") ? hi : null)];
                }
                Value? Bound(int i) => c.VOpt(i) is { } b ? (b.Rank == 0 ? b : c.G.Reshape(b)) : null;
                return [c.G.Clip(c.V(0), Bound(1), Bound(2))];
            };
            h["Dropout"] = c =>
            {
                if (c.Const(2) is { } tm && ImportFolding.Longs(tm).Any(v => v != 0) || c.Int("is_test", 1) == 0 && c.Opset < 7)
                    throw new UnsupportedOnnxOpException("Dropout", c.Node.Name, $"OnnxImporter: {c}: training-mode Dropout is not supported (randomness comes from host-fed tensors)");
                var x = c.V(0);
                return [x, c.Node.Output.Count > 1 ? c.G.Filled(DType.Bool, 1, x.Shape) : null];
            };

            h["MatMul"] = c => [c.G.MatMul(c.V(0), c.V(1))];
            h["Gemm"] = c => [c.G.Gemm(c.V(0), c.V(1), c.VOpt(2), c.Int("transA", 0) != 0, c.Int("transB", 0) != 0, c.Float("alpha", 1f), c.Float("beta", 1f))];

            h["Conv"] = c =>
            {
                var x = c.V(0); var w = c.V(1);
                c.CheckKernel(w);
                var (strides, pads, dilations) = c.Window(x, w.Shape.Skip(2).ToArray());
                return [c.G.Conv(x, w, c.VOpt(2), strides, pads, dilations, c.Int("group", 1))];
            };
            h["ConvTranspose"] = c =>
            {
                var x = c.V(0); var w = c.V(1);
                c.CheckKernel(w);
                if (c.Has("output_shape")) throw new UnsupportedOnnxOpException("ConvTranspose", c.Node.Name, $"OnnxImporter: {c}: the output_shape attribute is not supported (give pads and output_padding)");
                string autoPad = c.Str("auto_pad") ?? "NOTSET";
                if (autoPad is not ("NOTSET" or "VALID")) throw new UnsupportedOnnxOpException("ConvTranspose", c.Node.Name, $"OnnxImporter: {c}: auto_pad {autoPad} is not supported");
                return [c.G.ConvTranspose(x, w, c.VOpt(2), c.Ints("strides"), autoPad == "VALID" ? null : c.Ints("pads"), c.Ints("output_padding"), c.Ints("dilations"), c.Int("group", 1))];
            };
            h["MaxPool"] = c =>
            {
                var x = c.V(0);
                var kernel = c.Ints("kernel_shape") ?? throw new InvalidDataException($"{c}: kernel_shape is required");
                var (strides, pads, dilations) = c.Window(x, kernel);
                if (dilations.Any(d => d != 1)) throw new UnsupportedOnnxOpException("MaxPool", c.Node.Name, $"OnnxImporter: {c}: dilated MaxPool is not supported");
                if (c.Int("storage_order", 0) != 0) throw new UnsupportedOnnxOpException("MaxPool", c.Node.Name, $"OnnxImporter: {c}: storage_order 1 is not supported");
                bool ceil = c.Int("ceil_mode", 0) != 0;
                if (c.Node.Output.Count > 1 && c.Node.Output[1].Length > 0)
                {
                    var (y, i) = c.G.MaxPoolWithIndices(x, kernel, strides, pads, ceil);
                    return [y, i];
                }
                return [c.G.MaxPool(x, kernel, strides, pads, ceil)];
            };
            h["AveragePool"] = c =>
            {
                var x = c.V(0);
                var kernel = c.Ints("kernel_shape") ?? throw new InvalidDataException($"{c}: kernel_shape is required");
                var (strides, pads, dilations) = c.Window(x, kernel);
                if (dilations.Any(d => d != 1)) throw new UnsupportedOnnxOpException("AveragePool", c.Node.Name, $"OnnxImporter: {c}: dilated AveragePool is not supported");
                return [c.G.AveragePool(x, kernel, strides, pads, c.Int("count_include_pad", 0) != 0, c.Int("ceil_mode", 0) != 0)];
            };
            h["GlobalAveragePool"] = c => [c.G.GlobalAveragePool(c.V(0))];
            h["BatchNormalization"] = c => c.S.BatchNormalization(c);

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

            h["ReduceSum"] = c => c.Reduce((g, x, a, k) => g.ReduceSum(x, a, k), axesAsInputFrom: 13);
            h["ReduceMean"] = c => c.Reduce((g, x, a, k) => g.ReduceMean(x, a, k), axesAsInputFrom: 18);
            h["ReduceMax"] = c => c.Reduce((g, x, a, k) => g.ReduceMax(x, a, k), axesAsInputFrom: 18);
            h["ReduceMin"] = c => c.Reduce((g, x, a, k) => g.ReduceMin(x, a, k), axesAsInputFrom: 18);
            h["Softmax"] = c => [c.Softmax(false)];
            h["LogSoftmax"] = c => [c.Softmax(true)];
            h["ArgMax"] = c =>
            {
                if (c.Int("select_last_index", 0) != 0) throw new UnsupportedOnnxOpException("ArgMax", c.Node.Name, $"OnnxImporter: {c}: select_last_index is not supported");
                return [c.G.ArgMax(c.V(0), c.Int("axis", 0), c.Int("keepdims", 1) != 0)];
            };
            h["TopK"] = c =>
            {
                if (c.Int("sorted", 1) == 0) throw new UnsupportedOnnxOpException("TopK", c.Node.Name, $"OnnxImporter: {c}: sorted = 0 is not supported");
                long k = c.Opset < 10 ? c.Int("k", 1) : c.ConstInts(1, "K")[0];
                var (v, i) = c.G.TopK(c.V(0), k, c.Int("axis", -1), c.Int("largest", 1) != 0);
                return [v, i];
            };
            h["CumSum"] = c =>
            {
                if (c.Int("reverse", 0) != 0) throw new UnsupportedOnnxOpException("CumSum", c.Node.Name, $"OnnxImporter: {c}: reverse CumSum is not supported");
                return [c.G.CumSum(c.V(0), c.ConstInts(1, "axis")[0], c.Int("exclusive", 0) != 0)];
            };
            // Host-only (folded when their inputs are constants; a clear error otherwise).
            h["Shape"] = c => throw new ShapeException($"OnnxImporter: {c}: Shape of a value with dynamic dimensions {c.V(0).Describe()}: fix them in ImportOptions");
            h["Constant"] = c => throw new InvalidOperationException("Constant nodes are folded");
            h["Range"] = c => throw new NotSupportedException($"OnnxImporter: {c}: Range needs constant inputs");
            return h;
        }

        private Value?[] BatchNormalization(NodeCtx c)
        {
            var x = c.V(0);
            float eps = c.Float("epsilon", 1e-5f), momentum = c.Float("momentum", 0.9f);
            bool training = _o.BatchNorm switch
            {
                BatchNormImport.Training => true,
                BatchNormImport.Inference => false,
                _ => c.Int("training_mode", 0) != 0,
            };
            for (int i = 1; i < c.Node.Input.Count; i++)
                (i >= 3 ? _usedAsStat : _usedOtherwise).Add(c.Node.Input[i]);
            var scale = c.V(1); var bias = c.V(2); var mean = c.V(3); var variance = c.V(4);
            if (!training) return [BatchNorm.Inference(_g, x, scale, bias, mean, variance, eps)];
            var r = BatchNorm.Training(_g, x, scale, bias, mean, variance, momentum, eps);
            _updates.Add(new RunningStatUpdate(c.Node.Input[3], mean, r.NewRunningMean));
            _updates.Add(new RunningStatUpdate(c.Node.Input[4], variance, r.NewRunningVar));
            return [r.Y, r.NewRunningMean, r.NewRunningVar];
        }

        internal static DType ToDType(int elemType, string where) => elemType switch
        {
            1 => DType.Float,
            6 => DType.Int32,
            7 => DType.Int64,
            9 => DType.Bool,
            11 => DType.Double,
            _ => throw new NotSupportedException($"OnnxImporter: {where}: element type {elemType} ({(TensorProto.Types.DataType)elemType}) is not supported"),
        };

        // ------------------------------------------------------------ per-node access

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

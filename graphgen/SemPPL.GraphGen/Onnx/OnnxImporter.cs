using Onnx;
using SemPPL.GraphGen.Layers;

namespace SemPPL.GraphGen.Onnx;

/// <summary>
/// Loads an ONNX model (e.g. exported by PyTorch) into a <see cref="GraphBuilder"/>: graph inputs get
/// the static shapes the caller fixes, initializers stay constants or become graph inputs (trainable
/// parameters), and each node is replayed through the builder's op methods, so shapes are inferred
/// and checked as the graph is built and graphgen's autodiff can differentiate the result.
/// Shape arithmetic on static shapes (Shape, Gather, Unsqueeze, Concat, ... of integers) is evaluated
/// on the host and leaves no node behind (OnnxImporter.Folding.cs). The op handlers live in the partial files
/// OnnxImporter.*.cs, one per op family, as GraphBuilder's op methods do.
/// </summary>
public static partial class OnnxImporter
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

    private sealed partial class Session
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

        private void ReplayNode(NodeProto node)
        {
            var ctx = new NodeCtx(this, node);
            if (node.Domain is not ("" or "ai.onnx") || !Handlers.TryGetValue(node.OpType, out var handler))
                throw Unsupported(node, node.Domain is "" or "ai.onnx" ? "" : $" (domain '{node.Domain}')");
            try
            {
                if (TryFold(ctx)) return;
                string origin = $"node '{(node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault())}' ({node.OpType}) of the imported model";
                var outs = _g.WithOrigin(origin, () => handler(ctx));
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

        // ------------------------------------------------------------ op handlers, one file per op family

        private static Dictionary<string, Func<NodeCtx, Value?[]>> BuildHandlers()
        {
            var h = new Dictionary<string, Func<NodeCtx, Value?[]>>(StringComparer.Ordinal);
            AddElementwiseHandlers(h);
            AddLinearHandlers(h);
            AddConvHandlers(h);
            AddShapeHandlers(h);
            AddReduceHandlers(h);
            AddHostOnlyHandlers(h);
            return h;
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
    }
}

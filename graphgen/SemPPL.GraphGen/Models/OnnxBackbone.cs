using Onnx;
using SemPPL.Config;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>
/// A backbone given as an ONNX forward file (model.backbone: "onnx:&lt;path&gt;", model.onnx_input: the image
/// input's name, model.onnx_output: the feature value's name, e.g. the input of the file's final linear layer).
/// <para>
/// The file is read once, at construction: the graph is pruned to the nodes the feature value needs, and its
/// float initializers of rank &gt;= 1 are turned into graph inputs of the prepared model. Each
/// <see cref="Forward"/> imports the prepared model into the context's graph with <see cref="OnnxImporter"/>,
/// binding (ImportOptions.InputBindings) the image input to the view and every such initializer to the context's
/// parameter or buffer of the same name under "encoder." (so "online.encoder.conv1.weight",
/// "target.encoder.bn1.running_mean"): the second view's forward binds the same parameter Values, and autodiff
/// accumulates both views' gradients into one.
/// </para>
/// <list type="bullet">
/// <item>Kinds: an initializer in a BatchNormalization's scale / bias slot is BnScale / BnBias; in its mean / var
/// slot it is a buffer (running statistic); otherwise rank &gt;= 3 is ConvWeight, rank 2 LinearWeight, rank 1 Bias.
/// Integer initializers (shapes, indices) and float scalars stay constants of the graph.</item>
/// <item>Initial values are the file's initializers (<see cref="ParameterSpec.InitialValue"/>,
/// <see cref="BufferSpec.InitialData"/>), not He initialisation.</item>
/// <item>BatchNorm: batch statistics with chained running-statistic updates in <see cref="ModelMode.Training"/>
/// (decay = the context's BnMomentum, which replaces the file's momentum attribute; the file's epsilon is kept),
/// running statistics in <see cref="ModelMode.Inference"/>.</item>
/// <item>The feature value is flattened to [B, FeatureDim]. FeatureDim comes from the value's declared shape when
/// the file declares it statically, otherwise from the first import.</item>
/// <item>Graphs with a dynamic batch (eval.onnx) need a file whose forward does not compute shapes from the batch
/// size (use Flatten / torch.flatten rather than x.view(x.size(0), -1)).</item>
/// </list>
/// </summary>
public sealed class OnnxBackbone : IBackbone
{
    public const string Prefix = KnownNames.OnnxBackbonePrefix;
    public const string EncoderScope = SemPPLNetwork.Encoder + ".";

    private readonly ModelProto _model;
    private readonly List<TensorSlot> _tensors = [];
    private readonly List<NodeProto> _batchNorms = [];
    private readonly string _folder;

    /// <summary>A float initializer that became an input of the prepared model.</summary>
    private sealed record TensorSlot(string Name, long[] Shape, ParameterKind Kind, bool IsBuffer, float BufferDefault, float[] Data);

    /// <summary>The backbone of a validated model config (Backbone = "onnx:&lt;path&gt;", OnnxInput, OnnxOutput).</summary>
    public static OnnxBackbone FromConfig(ModelConfig cfg, long inputChannels)
    {
        string b = cfg.Backbone?.Trim() ?? "";
        if (!b.StartsWith(Prefix, StringComparison.Ordinal) || b.Length == Prefix.Length)
            throw new ArgumentException($"model.backbone: '{b}' is not an onnx:<path> backbone");
        if (string.IsNullOrWhiteSpace(cfg.OnnxInput)) throw new ArgumentException("model.onnx_input is required with an onnx: backbone (the name of the image input in the file)");
        if (string.IsNullOrWhiteSpace(cfg.OnnxOutput)) throw new ArgumentException("model.onnx_output is required with an onnx: backbone (the name of the feature value in the file)");
        return new OnnxBackbone(b[Prefix.Length..], cfg.OnnxInput, cfg.OnnxOutput, inputChannels);
    }

    public OnnxBackbone(string path, string inputName, string outputName, long inputChannels = -1)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"onnx backbone: the file '{path}' does not exist", full);
        _folder = Path.GetDirectoryName(full)!;
        FilePath = path;
        InputName = inputName;
        OutputName = outputName;
        InputChannels = inputChannels;
        Name = Prefix + Path.GetFileName(path);

        ModelProto source;
        try { source = OnnxImporter.Load(full); }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException)
        {
            throw new InvalidDataException($"onnx backbone: '{path}' is not a readable ONNX model ({e.Message})", e);
        }
        var graph = source.Graph ?? throw new InvalidDataException($"onnx backbone: '{path}' has no graph");
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);

        var input = graph.Input.FirstOrDefault(i => i.Name == inputName && !initializers.ContainsKey(i.Name))
            ?? throw new ArgumentException($"model.onnx_input: '{inputName}' is not an input of '{path}'; its inputs: " +
                                           string.Join(", ", graph.Input.Where(i => !initializers.ContainsKey(i.Name)).Select(i => i.Name)));
        var dims = input.Type?.TensorType?.Shape?.Dim;
        if (dims is not null)
        {
            if (dims.Count == 4 && dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue) FixedBatch = dims[0].DimValue;
            if (dims.Count != 4) throw new ArgumentException($"model.onnx_input: '{inputName}' of '{path}' has rank {dims.Count}; an image input must be [B, C, H, W]");
            if (inputChannels > 0 && dims[1].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[1].DimValue != inputChannels)
                throw new ArgumentException($"model.onnx_input: '{inputName}' of '{path}' takes {dims[1].DimValue} channels, augment.channels is {inputChannels}");
        }

        // Prune to the nodes the feature value needs (a final classifier after it is dropped with its weights).
        var producers = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = 0; n < graph.Node.Count; n++)
            foreach (var o in graph.Node[n].Output) if (o.Length > 0) producers[o] = n;
        if (!producers.ContainsKey(outputName))
            throw new ArgumentException($"model.onnx_output: no node of '{path}' computes '{outputName}'; its outputs: {string.Join(", ", graph.Output.Select(o => o.Name))} " +
                                        "(any intermediate value name of the graph may be used)");
        var needed = new HashSet<string>(StringComparer.Ordinal) { outputName };
        var keep = new bool[graph.Node.Count];
        for (int n = graph.Node.Count - 1; n >= 0; n--)
        {
            var node = graph.Node[n];
            if (!node.Output.Any(needed.Contains)) continue;
            keep[n] = true;
            foreach (var i in node.Input) if (i.Length > 0) needed.Add(i);
            foreach (var a in node.Attribute)
                if (a.G is not null || a.Graphs.Count > 0)
                    throw new NotSupportedException($"onnx backbone: '{path}': node '{node.Name}' ({node.OpType}) has a subgraph; control flow is not supported");
        }
        if (!needed.Contains(inputName)) throw new ArgumentException($"model.onnx_output: '{outputName}' of '{path}' does not depend on the input '{inputName}'");
        var otherInputs = graph.Input.Where(i => i.Name != inputName && !initializers.ContainsKey(i.Name) && needed.Contains(i.Name)).Select(i => i.Name).ToList();
        if (otherInputs.Count > 0)
            throw new ArgumentException($"model.onnx_output: '{outputName}' of '{path}' also needs the input(s) {string.Join(", ", otherInputs)}; only the image input can be fed");

        // Roles of initializers in BatchNormalization nodes.
        var bnRole = new Dictionary<string, int>(StringComparer.Ordinal);
        var otherUse = new HashSet<string>(StringComparer.Ordinal);
        for (int n = 0; n < graph.Node.Count; n++)
        {
            if (!keep[n]) continue;
            var node = graph.Node[n];
            for (int i = 0; i < node.Input.Count; i++)
            {
                string name = node.Input[i];
                if (!initializers.ContainsKey(name)) continue;
                if (node.OpType == "BatchNormalization" && i >= 1)
                {
                    if (bnRole.TryGetValue(name, out var r) && r != i)
                        throw new NotSupportedException($"onnx backbone: '{path}': initializer '{name}' has two BatchNormalization roles");
                    bnRole[name] = i;
                }
                else otherUse.Add(name);
            }
        }

        var prepared = source.Clone();
        var pg = prepared.Graph;
        pg.Node.Clear();
        for (int n = 0; n < graph.Node.Count; n++) if (keep[n]) pg.Node.Add(graph.Node[n].Clone());
        _batchNorms = pg.Node.Where(node => node.OpType == "BatchNormalization").ToList();
        pg.Initializer.Clear();
        pg.Input.Clear();
        pg.Input.Add(WithDynamicBatch(input.Clone()));
        foreach (var init in graph.Initializer)
        {
            if (!needed.Contains(init.Name)) continue;
            bool trainable = init.DataType == (int)TensorProto.Types.DataType.Float && init.Dims.Count >= 1;
            if (!trainable) { pg.Initializer.Add(init.Clone()); continue; }
            var data = HostTensor.FromProto(init, _folder);
            bnRole.TryGetValue(init.Name, out var role);
            if (role >= 3 && otherUse.Contains(init.Name))
                throw new NotSupportedException($"onnx backbone: '{path}': running statistic '{init.Name}' is also used outside BatchNormalization");
            var kind = role switch
            {
                1 => ParameterKind.BnScale,
                2 => ParameterKind.BnBias,
                _ => data.Shape.Length >= 3 ? ParameterKind.ConvWeight : data.Shape.Length == 2 ? ParameterKind.LinearWeight : ParameterKind.Bias,
            };
            _tensors.Add(new TensorSlot(init.Name, data.Shape, kind, role >= 3, role == 4 ? 1f : 0f, data.Floats));
            var vi = new ValueInfoProto { Name = init.Name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = init.DataType, Shape = new TensorShapeProto() } } };
            foreach (var d in init.Dims) vi.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            pg.Input.Add(vi);
        }
        pg.Output.Clear();
        var declared = graph.Output.FirstOrDefault(o => o.Name == outputName) ?? graph.ValueInfo.FirstOrDefault(v => v.Name == outputName);
        pg.Output.Add(declared is null ? new ValueInfoProto { Name = outputName } : WithDynamicBatch(declared.Clone()));
        // torch.onnx.export without dynamic_axes fixes the batch size everywhere; the declared intermediate shapes
        // would pin it again, and they are only checks.
        if (FixedBatch is not null) pg.ValueInfo.Clear();
        _model = prepared;

        var outDims = declared?.Type?.TensorType?.Shape?.Dim;
        if (outDims is { Count: >= 2 } && outDims.Skip(1).All(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue))
            FeatureDim = outDims.Skip(1).Aggregate(1L, (p, d) => p * d.DimValue);
        else FeatureDim = -1;
    }

    /// <summary>
    /// The batch size the file's image input declares when it is fixed (torch.onnx.export without dynamic_axes).
    /// The prepared model makes it dynamic, which is exact when the graph does not compute with the batch size;
    /// when it does, <see cref="Forward"/> fails with the re-export instructions.
    /// </summary>
    public long? FixedBatch { get; }

    /// <summary>A fixed leading (batch) dimension equal to <see cref="FixedBatch"/> becomes the dynamic "batch".</summary>
    private ValueInfoProto WithDynamicBatch(ValueInfoProto vi)
    {
        var d = vi.Type?.TensorType?.Shape?.Dim;
        if (FixedBatch is { } b && d is { Count: > 0 } && d[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d[0].DimValue == b)
            d[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
        return vi;
    }

    /// <summary>The problem of a file with a fixed batch size whose graph depends on it, with how to re-export it.</summary>
    private ShapeException FixedBatchProblem(string what) => new(
        $"{Name}: the file was exported with a fixed batch size of {FixedBatch} and its graph computes with it ({what}); " +
        $"re-export it with a dynamic batch, e.g. torch.onnx.export(model, x, path, input_names=['{InputName}'], output_names=['{OutputName}'], " +
        $"dynamic_axes={{'{InputName}': {{0: 'batch'}}, '{OutputName}': {{0: 'batch'}}}}), and flatten with torch.flatten(x, 1) rather than x.view({FixedBatch}, -1)");

    public string Name { get; }
    /// <summary>The file path as configured.</summary>
    public string FilePath { get; }
    public string InputName { get; }
    public string OutputName { get; }
    public long InputChannels { get; }

    /// <summary>Features per image; -1 until the first <see cref="Forward"/> when the file does not declare the value's shape.</summary>
    public long FeatureDim { get; private set; }

    /// <summary>Local names (under "encoder.") of the trainable initializers, in file order.</summary>
    public IReadOnlyList<string> ParameterNames => _tensors.Where(t => !t.IsBuffer).Select(t => EncoderScope + t.Name).ToList();
    /// <summary>Local names (under "encoder.") of the running statistics, in file order.</summary>
    public IReadOnlyList<string> BufferNames => _tensors.Where(t => t.IsBuffer).Select(t => EncoderScope + t.Name).ToList();

    public Value Forward(ModelContext ctx, Value images)
    {
        if (images.Rank != 4 || (InputChannels > 0 && images.Shape[1] != InputChannels))
            throw ShapeException.For(Name, $"images must be [B, {(InputChannels > 0 ? InputChannels.ToString() : "C")}, H, W]", images);
        var g = ctx.Graph;
        return ctx.InScope(EncoderScope, () =>
        {
            var bindings = new Dictionary<string, Value>(StringComparer.Ordinal) { [InputName] = images };
            foreach (var t in _tensors)
                bindings[t.Name] = t.IsBuffer
                    ? ctx.Buffer(t.Name, t.Shape, t.BufferDefault, t.Data)
                    : ctx.Parameter(t.Name, t.Shape, t.Kind, initialValue: t.Data);
            foreach (var bn in _batchNorms)
            {
                var m = bn.Attribute.FirstOrDefault(a => a.Name == "momentum");
                if (m is null) bn.Attribute.Add(m = new AttributeProto { Name = "momentum", Type = AttributeProto.Types.AttributeType.Float });
                m.F = ctx.BnMomentum;
            }
            var options = new ImportOptions
            {
                InputShapes = new Dictionary<string, long[]> { [InputName] = images.Shape },
                InputBindings = bindings,
                AllowDynamicDims = !images.IsStatic,
                MarkOutputs = false,
                RunningStatsAsOutputs = false,
                BatchNorm = ctx.Mode == ModelMode.Training ? BatchNormImport.Training : BatchNormImport.Inference,
                ExternalDataFolder = _folder,
            };
            ImportResult r;
            try { r = OnnxImporter.Import(g, _model, options); }
            catch (ShapeException e) when (FixedBatch is { } b && images.Shape[0] != b) { throw FixedBatchProblem(e.Message); }
            foreach (var u in r.RunningStatUpdates) ctx.UpdateBuffer(u.Name, u.Updated);
            var features = r[OutputName];
            if (features.Rank < 2 || features.Shape[0] != images.Shape[0])
            {
                string what = $"the feature value '{OutputName}' must be [B, ...] with B = {images.Shape[0]}";
                if (FixedBatch is not null && images.Shape[0] != FixedBatch) throw FixedBatchProblem($"{what}, it is {features.Describe()}");
                throw ShapeException.For(Name, what, features);
            }
            if (features.Rank > 2) features = g.Flatten(features, 1);
            long f = features.Shape[1];
            if (f <= 0) throw ShapeException.For(Name, $"the feature value '{OutputName}' must have a static feature size", features);
            if (FeatureDim < 0) FeatureDim = f;
            else if (f != FeatureDim)
                throw ShapeException.For(Name, $"the feature value '{OutputName}' has {f} features for images {Shapes.Str(images.Shape)}, {FeatureDim} elsewhere (views of different sizes need a size-independent head such as global average pooling)", features);
            return features;
        });
    }
}

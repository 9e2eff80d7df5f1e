using SemPPL.GraphGen.Layers;

namespace SemPPL.GraphGen.Onnx;

/// <summary>How BatchNormalization nodes are imported.</summary>
public enum BatchNormImport
{
    /// <summary>As the model says: training_mode = 1 is decomposed into batch statistics, otherwise running statistics.</summary>
    AsExported,
    /// <summary>Every BatchNormalization uses batch statistics (decomposed, <see cref="BatchNorm.Training"/>) and updates its running statistics.</summary>
    Training,
    /// <summary>Every BatchNormalization uses its running statistics.</summary>
    Inference,
}

/// <summary>Options of <see cref="OnnxImporter"/>.</summary>
public sealed record ImportOptions
{
    /// <summary>Turn initializers into graph inputs (trainable parameters) instead of keeping them as stored constants.</summary>
    public bool InitializersAsInputs { get; init; }

    /// <summary>
    /// Which initializers become inputs when <see cref="InitializersAsInputs"/> is set; the default takes the
    /// floating-point ones (integer initializers are shapes and indices and stay constants).
    /// </summary>
    public Func<string, HostTensor, bool>? InitializerAsInput { get; init; }

    /// <summary>Sizes of named dynamic dimensions (dim_param), e.g. { ["batch"] = 32 }.</summary>
    public IReadOnlyDictionary<string, long> DimValues { get; init; } = new Dictionary<string, long>();

    /// <summary>Full shapes of graph inputs by name; they override the model's (dynamic dimensions included).</summary>
    public IReadOnlyDictionary<string, long[]> InputShapes { get; init; } = new Dictionary<string, long[]>();

    /// <summary>Graph inputs bound to existing values of the target builder (importing a model into a larger graph).</summary>
    public IReadOnlyDictionary<string, Value> InputBindings { get; init; } = new Dictionary<string, Value>();

    /// <summary>Keep dynamic dimensions that no option fixes as -1 instead of failing (inference graphs only).</summary>
    public bool AllowDynamicDims { get; init; }

    /// <summary>Mark the model's outputs as outputs of the builder graph, under their original names.</summary>
    public bool MarkOutputs { get; init; } = true;

    public BatchNormImport BatchNorm { get; init; } = BatchNormImport.AsExported;

    /// <summary>Mark the updated running statistics of training-mode BatchNorm as graph outputs named "&lt;statistic&gt;.updated".</summary>
    public bool RunningStatsAsOutputs { get; init; } = true;

    /// <summary>Prefix for the names of the inputs, initializers and outputs the import creates.</summary>
    public string NamePrefix { get; init; } = "";

    /// <summary>Folder of external tensor data (models saved with external data); defaults to the model file's folder.</summary>
    public string? ExternalDataFolder { get; init; }
}

/// <summary>A running statistic of a training-mode BatchNormalization and its updated value.</summary>
public sealed record RunningStatUpdate(string Name, Value Statistic, Value Updated);

/// <summary>What an import produced, by the model's own names.</summary>
public sealed class ImportResult
{
    private readonly Func<string, Value?> _lookup;

    internal ImportResult(GraphBuilder graph, Func<string, Value?> lookup)
    {
        Graph = graph;
        _lookup = lookup;
    }

    public GraphBuilder Graph { get; }

    /// <summary>Every value materialised in the builder, by its ONNX name (inputs, initializers, node outputs).</summary>
    public IReadOnlyDictionary<string, Value> Values { get; internal set; } = new Dictionary<string, Value>();

    /// <summary>Values the import evaluated on the host (shape arithmetic, Constant nodes, kept initializers).</summary>
    public IReadOnlyDictionary<string, HostTensor> Constants { get; internal set; } = new Dictionary<string, HostTensor>();

    /// <summary>The model's graph inputs (initializers excluded), in model order.</summary>
    public IReadOnlyList<Value> Inputs { get; internal set; } = [];

    /// <summary>The model's graph outputs, in model order.</summary>
    public IReadOnlyList<Value> Outputs { get; internal set; } = [];

    /// <summary>Initializers turned into graph inputs that are parameters (everything but BatchNorm running statistics).</summary>
    public IReadOnlyList<Value> Parameters { get; internal set; } = [];

    /// <summary>Initializers turned into graph inputs that only feed BatchNorm running statistics (buffers, not trained by gradient).</summary>
    public IReadOnlyList<Value> RunningStats { get; internal set; } = [];

    /// <summary>The stored data of each initializer that became a graph input (initial weights).</summary>
    public IReadOnlyDictionary<Value, HostTensor> InitialValues { get; internal set; } = new Dictionary<Value, HostTensor>();

    /// <summary>Training-mode BatchNorm running statistics and their updated values.</summary>
    public IReadOnlyList<RunningStatUpdate> RunningStatUpdates { get; internal set; } = [];

    /// <summary>The builder value of an ONNX value name (host constants are materialised on request).</summary>
    public Value this[string onnxName] => _lookup(onnxName) ?? throw new KeyNotFoundException($"the imported model has no value named '{onnxName}'");

    public bool TryGetValue(string onnxName, out Value value)
    {
        var v = _lookup(onnxName);
        value = v!;
        return v is not null;
    }
}

/// <summary>The model uses an op the importer does not replay.</summary>
public sealed class UnsupportedOnnxOpException(string opType, string nodeName, string message) : NotSupportedException(message)
{
    public string OpType { get; } = opType;
    public string NodeName { get; } = nodeName;
}

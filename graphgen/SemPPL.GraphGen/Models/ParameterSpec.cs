namespace SemPPL.GraphGen.Models;

/// <summary>What a trainable parameter is; decides its initialisation and optimizer grouping.</summary>
public enum ParameterKind
{
    /// <summary>Convolution kernel [out, in/groups, kH, kW]: He normal, fan-out.</summary>
    ConvWeight,
    /// <summary>Linear (Gemm, transB) weight [out, in] (torch layout): uniform +-1/sqrt(in).</summary>
    LinearWeight,
    /// <summary>Bias of a linear layer: uniform +-1/sqrt(fan_in).</summary>
    Bias,
    /// <summary>BatchNorm gamma: 1 (0 when <see cref="ParameterSpec.ZeroInit"/>).</summary>
    BnScale,
    /// <summary>BatchNorm beta: 0.</summary>
    BnBias,
}

/// <summary>
/// A trainable parameter. <see cref="Name"/> is the LOCAL name, without the context prefix
/// ("encoder.layer1.0.conv1.weight"); the graph input is named prefix + Name
/// ("online.encoder.layer1.0.conv1.weight"). Online and target copies therefore share a spec name,
/// and <see cref="ParameterInitializer"/> gives them the same initial values.
/// </summary>
public sealed record ParameterSpec(string Name, long[] Shape, ParameterKind Kind)
{
    /// <summary>Fan-in used by the initializer for <see cref="ParameterKind.Bias"/> (the input width of its layer); 0 = from the shape.</summary>
    public long FanIn { get; init; }

    /// <summary>Initialise to zero: set on the last BN gamma of each residual block when ModelConfig.ZeroInitResidual.</summary>
    public bool ZeroInit { get; init; }

    /// <summary>
    /// Stored initial values (row-major, ElementCount floats), e.g. the initializers of an onnx:&lt;path&gt; backbone file;
    /// when set, <see cref="ParameterInitializer"/> returns a copy of them instead of drawing from the kind's distribution.
    /// </summary>
    public float[]? InitialValue { get; init; }

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Biases and BatchNorm parameters take no weight decay (docs/method.md, LARS recipe).</summary>
    public bool ExcludedFromWeightDecay => Kind is ParameterKind.Bias or ParameterKind.BnScale or ParameterKind.BnBias;

    /// <summary>Biases and BatchNorm parameters skip the LARS trust ratio.</summary>
    public bool ExcludedFromLars => Kind is ParameterKind.Bias or ParameterKind.BnScale or ParameterKind.BnBias;

    public override string ToString() => $"{Name} [{string.Join(",", Shape)}] {Kind}{(ZeroInit ? " zero-init" : "")}";
}

/// <summary>A non-trainable state tensor (BatchNorm running mean: 0, running var: 1). Name is local, as for parameters.</summary>
public sealed record BufferSpec(string Name, long[] Shape, float InitialValue)
{
    /// <summary>Stored initial values (e.g. an onnx: backbone's running statistics); when null every element is <see cref="InitialValue"/>.</summary>
    public float[]? InitialData { get; init; }

    /// <summary>The buffer's initial values: <see cref="InitialData"/> (copied) or <see cref="InitialValue"/> everywhere.</summary>
    public float[] InitialValues() =>
        InitialData is { } d ? (float[])d.Clone() : Enumerable.Repeat(InitialValue, checked((int)ElementCount)).ToArray();

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
    public override string ToString() => $"{Name} [{string.Join(",", Shape)}] = {InitialValue}";
}

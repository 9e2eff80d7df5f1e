using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Every gradient the train graph passes to the optimizer graph, laid end to end in one float buffer on the device, each
/// gradient a view into it (in the optimizer contract's order): a data-parallel all-reduce is then one call over
/// <see cref="Buffer"/>, not one per tensor. Which values are gradients comes from the manifest alone (the graphs' roles
/// and contracts). Owns the flat buffer; the views go to <see cref="GraphTensors"/>, whose train and optimizer bindings
/// use them. Dispose after the bindings (views never free memory).
/// </summary>
public sealed class FlatGradients : IDisposable
{
    /// <summary>Each gradient starts at a multiple of 64 floats (256 bytes, what cudaMalloc gives): vectorised kernels may need the alignment.</summary>
    public const int AlignFloats = 64;

    private readonly DeviceTensor _flat;

    public FlatGradients(SessionFactory factory, Manifest manifest, GraphTensors tensors)
    {
        Gradients = Of(manifest);
        var offsets = new long[Gradients.Count];
        long total = 0;
        for (int i = 0; i < Gradients.Count; i++)
        {
            offsets[i] = total;
            total += (Count(Gradients[i]) + AlignFloats - 1) / AlignFloats * AlignFloats;
        }
        // Zeros: the padding between gradients is all-reduced too and must stay finite.
        _flat = DeviceTensor.FromHost(factory, "gradients", HostTensor.Filled(DType.Float, [total], 0));
        nint start = _flat.DataPointer;
        for (int i = 0; i < Gradients.Count; i++)
            tensors.ProvidePassed(DeviceTensor.View(factory, Gradients[i].Tensor!, DType.Float, Gradients[i].Shape, start + (nint)(offsets[i] * sizeof(float))));
        Offsets = offsets;
        Buffer = new CollectiveBuffer(start, total, ElementType.Float32);
    }

    /// <summary>Where each gradient of <see cref="Gradients"/> starts in the buffer, in floats.</summary>
    public IReadOnlyList<long> Offsets { get; }

    /// <summary>The gradients in buffer order (the optimizer graph's passed inputs that the train graph writes).</summary>
    public IReadOnlyList<GraphIo> Gradients { get; }

    /// <summary>All gradients as one buffer of floats, where the factory keeps tensors (device memory on CUDA).</summary>
    public CollectiveBuffer Buffer { get; }

    /// <summary>The passed values from the train graph to the optimizer graph, in the optimizer contract's order.</summary>
    /// <exception cref="InvalidDataException">the step has no train or optimizer graph, or they pass nothing or something other than float32.</exception>
    public static IReadOnlyList<GraphIo> Of(Manifest manifest)
    {
        GraphEntry Single(GraphRole role) =>
            manifest.StepGraphs().Select(g => g.Graph).Where(g => g.Role == role).ToList() is [var one] ? one
                : throw new InvalidDataException($"the manifest's step needs exactly one {role} graph for a gradient all-reduce");
        var train = Single(GraphRole.Train);
        var written = train.Outputs.Where(o => o.Kind == IoKind.Passed).Select(o => o.Tensor).ToHashSet();
        var gradients = Single(GraphRole.Optimizer).Inputs.Where(i => i.Kind == IoKind.Passed && written.Contains(i.Tensor)).ToList();
        if (gradients.Count == 0) throw new InvalidDataException("the train graph passes no values to the optimizer graph: no gradients to all-reduce");
        if (gradients.FirstOrDefault(g => g.ElementType != DType.Float) is { } other)
            throw new InvalidDataException($"gradient '{other.Name}' is {other.DType}, not float: the all-reduce buffer holds floats");
        return gradients;
    }

    private static long Count(GraphIo g) => g.Shape.Aggregate(1L, (a, d) => a * d);

    public void Dispose() => _flat.Dispose();
}

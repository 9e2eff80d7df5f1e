using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Evaluation;

/// <summary>
/// Runs eval.onnx (running BN statistics) over images in fixed-size batches: encoder embeddings
/// and classifier logits. Weights are uploaded once and can be replaced (e.g. after fine-tuning).
/// </summary>
public sealed class EmbeddingExtractor : IDisposable
{
    private readonly GraphRunner _runner;
    private readonly DeviceState _weights;
    private readonly DeviceState _io;
    private readonly GraphBinding _binding;
    private readonly DeviceTensor _images, _embedding, _logits;
    private readonly int _batch;

    /// <param name="weights">Values of the state tensors eval.onnx reads (by state name, as in a checkpoint).</param>
    public EmbeddingExtractor(SessionFactory factory, ArtifactGraph eval, IReadOnlyDictionary<string, HostTensor> weights, int batch, long[] imageShape)
    {
        _batch = batch;
        _runner = new GraphRunner(factory, eval.Path, "eval");
        ContractBinder.CheckMatches(_runner, eval.Contract);
        _weights = new DeviceState(factory);
        _io = new DeviceState(factory);
        var inputs = new Dictionary<string, DeviceTensor>();
        foreach (var io in eval.Contract.Inputs)
        {
            if (io is { Kind: IoKind.HostFed, Role: HostRole.Images })
                inputs[io.Name] = _io.Add(DeviceTensor.AllocateHost(factory, io.Name, DType.Float, [batch, .. imageShape]));
            else if (io.Kind == IoKind.StateRead)
                inputs[io.Name] = _weights.Upload(io.Tensor!, weights.TryGetValue(io.Tensor!, out var w) ? w
                    : throw new InvalidDataException($"eval: the checkpoint has no tensor '{io.Tensor}' needed by eval.onnx"));
            else throw new InvalidDataException($"eval.onnx: input '{io.Name}' ({io.Kind}) is not something evaluation provides");
        }
        _images = inputs[eval.Contract.ForRole(HostRole.Images)!.Name];
        var outputs = new Dictionary<string, DeviceTensor>();
        DeviceTensor Output(HostRole role)
        {
            var io = eval.Contract.ForRole(role) ?? throw new InvalidDataException($"eval.onnx has no {role} output; regenerate the artifact set");
            return outputs[io.Name] = _io.Add(DeviceTensor.AllocateHost(factory, io.Name, DType.Float, batch, io.Shape[1]));
        }
        _embedding = Output(HostRole.Embedding);
        _logits = Output(HostRole.Logits);
        Output(HostRole.Projection);
        FeatureDim = _embedding.Shape[1];
        NumClasses = _logits.Shape[1];
        _binding = _runner.Bind(inputs, outputs);
    }

    public long FeatureDim { get; }
    public long NumClasses { get; }

    public void SetWeights(IReadOnlyDictionary<string, HostTensor> weights)
    {
        foreach (var name in _weights.Names)
            if (weights.TryGetValue(name, out var w)) _weights[name].Upload(w);
    }

    /// <summary>Embeddings [n, F] and logits [n, K] of images <paramref name="indices"/>.</summary>
    public (float[] Features, float[] Logits) Run(ImageBatchLoader loader, IReadOnlyList<int> indices)
    {
        var features = new float[indices.Count * FeatureDim];
        var logits = new float[indices.Count * NumClasses];
        var chunk = new int[_batch];
        for (int start = 0; start < indices.Count; start += _batch)
        {
            int n = Math.Min(_batch, indices.Count - start);
            // The graph has a fixed batch here: pad the last chunk by repeating its first image.
            for (int i = 0; i < _batch; i++) chunk[i] = indices[start + Math.Min(i, n - 1)];
            loader.Load(chunk, _images.HostSpan<float>(), augment: false);
            _binding.Run();
            _embedding.HostSpan<float>()[..(int)(n * FeatureDim)].CopyTo(features.AsSpan((int)(start * FeatureDim)));
            _logits.HostSpan<float>()[..(int)(n * NumClasses)].CopyTo(logits.AsSpan((int)(start * NumClasses)));
        }
        return (features, logits);
    }

    public void Dispose()
    {
        _binding.Dispose();
        _runner.Dispose();
        _io.Dispose();
        _weights.Dispose();
    }
}

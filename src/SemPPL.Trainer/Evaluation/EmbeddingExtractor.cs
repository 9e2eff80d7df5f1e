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
    private readonly int _batch;

    public EmbeddingExtractor(SessionFactory factory, string evalPath, IReadOnlyDictionary<string, HostTensor> weights, int batch, long[] imageShape)
    {
        _batch = batch;
        _runner = new GraphRunner(factory, evalPath, "eval");
        _weights = new DeviceState(factory);
        _io = new DeviceState(factory);
        var inputs = new Dictionary<string, DeviceTensor>();
        foreach (var name in _runner.InputNames)
        {
            if (name == ArtifactNames.Images)
            {
                inputs[name] = _io.Add(DeviceTensor.AllocateHost(factory, name, DType.Float, [batch, .. imageShape]));
                continue;
            }
            if (!weights.TryGetValue(name, out var w))
                throw new InvalidDataException($"eval: the checkpoint has no tensor '{name}' needed by eval.onnx");
            inputs[name] = _weights.Upload(name, w);
        }
        FeatureDim = _runner.Outputs[ArtifactNames.Embedding].Shape[1];
        NumClasses = _runner.Outputs[ArtifactNames.Logits].Shape[1];
        long projection = _runner.Outputs[ArtifactNames.Projection].Shape[1];
        var outputs = new Dictionary<string, DeviceTensor>
        {
            [ArtifactNames.Embedding] = _io.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.Embedding, DType.Float, batch, FeatureDim)),
            [ArtifactNames.Projection] = _io.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.Projection, DType.Float, batch, projection)),
            [ArtifactNames.Logits] = _io.Add(DeviceTensor.AllocateHost(factory, ArtifactNames.Logits, DType.Float, batch, NumClasses)),
        };
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
            loader.Load(chunk, _io[ArtifactNames.Images].HostSpan<float>(), augment: false);
            _binding.Run();
            _io[ArtifactNames.Embedding].HostSpan<float>()[..(int)(n * FeatureDim)].CopyTo(features.AsSpan((int)(start * FeatureDim)));
            _io[ArtifactNames.Logits].HostSpan<float>()[..(int)(n * NumClasses)].CopyTo(logits.AsSpan((int)(start * NumClasses)));
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

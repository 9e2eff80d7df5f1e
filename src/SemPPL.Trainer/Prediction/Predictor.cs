using SemPPL.Data.Augmentation;
using SemPPL.Data.Random;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Export;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Prediction;

/// <summary>One image's answer: its name and the top classes, best first.</summary>
public sealed record Prediction(string Path, IReadOnlyList<(int Index, string Name, float Probability)> Top);

/// <summary>What a prediction run did.</summary>
public sealed record PredictionSummary(int Predicted, int Skipped, double Seconds);

/// <summary>
/// Runs an exported model over images in fixed-size batches, preprocessing each image exactly as evaluation did
/// (<see cref="ViewParams.Evaluation"/>) from the model's own metadata: for a float model the normalised NCHW
/// tensor, for a <c>--preprocess</c> model the resized pixel bytes in NHWC. Images that cannot be read are skipped
/// and reported through the warning callback, one line each.
/// </summary>
public sealed class Predictor : IDisposable
{
    private readonly GraphRunner _runner;
    private readonly DeviceState _io;
    private readonly GraphBinding _binding;
    private readonly DeviceTensor _input;
    private readonly DeviceTensor? _logits;
    private readonly DeviceTensor _embedding;
    private readonly ViewParams _view;
    private readonly int _batch, _perImage;
    private readonly ThreadLocal<Scratch> _scratch = new(() => new Scratch());

    private sealed class Scratch
    {
        public readonly ViewAugmenter Augmenter = new();
        public byte[] Decoded = new byte[4096];
    }

    public Predictor(SessionFactory factory, string modelPath, int batch)
    {
        Metadata = DeployMetadata.Read(modelPath);
        var m = Metadata;
        _batch = batch;
        _perImage = m.Channels * m.InputSize * m.InputSize;
        // Uint8 models normalise in the graph: the client side stops at the resized [0, 1] image.
        _view = m.NormalisedInGraph
            ? ViewParams.Evaluation(m.InputSize, m.Channels, new float[m.Channels], Enumerable.Repeat(1f, m.Channels).ToArray())
            : ViewParams.Evaluation(m.InputSize, m.Channels, m.Mean.Select(v => (float)v).ToArray(), m.Std.Select(v => (float)v).ToArray());
        _runner = new GraphRunner(factory, modelPath, "model");
        _io = new DeviceState(factory);
        long[] shape = m.InputLayout == "NHWC" ? [batch, m.InputSize, m.InputSize, m.Channels] : [batch, m.Channels, m.InputSize, m.InputSize];
        _input = _io.Add(DeviceTensor.AllocateHost(factory, m.InputName, m.NormalisedInGraph ? DType.UInt8 : DType.Float, shape));
        var outputs = new Dictionary<string, DeviceTensor>();
        if (_runner.Outputs.ContainsKey(ArtifactNames.Logits))
            outputs[ArtifactNames.Logits] = _logits = _io.Add(DeviceTensor.AllocateHost(factory, "logits", DType.Float, batch, m.ClassNames.Count));
        // Every output of a dynamic-batch graph needs a bound tensor; the embedding is read only when asked for.
        outputs[ArtifactNames.Embedding] = _embedding = _io.Add(DeviceTensor.AllocateHost(factory, "embedding", DType.Float, batch, m.EmbeddingDim));
        _binding = _runner.Bind(new Dictionary<string, DeviceTensor> { [m.InputName] = _input }, outputs);
    }

    public DeployMetadata Metadata { get; }
    public bool HasClassifier => _logits is not null;

    /// <param name="topK">Classes per row (at most the number of classes).</param>
    /// <param name="onPrediction">Receives each readable image's prediction, in input order.</param>
    /// <param name="onEmbedding">Receives each readable image's embedding, in the same order (null: not wanted).</param>
    /// <param name="warn">Receives one line per image that could not be read.</param>
    /// <param name="progress">Images done so far, after each batch.</param>
    public PredictionSummary Run(PredictionInputs inputs, int topK, Action<Prediction> onPrediction, Action<ReadOnlySpan<float>>? onEmbedding,
        Action<string> warn, Action<int>? progress = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int classes = Metadata.ClassNames.Count, dim = (int)Metadata.EmbeddingDim;
        topK = Math.Clamp(topK, 1, classes);
        var staged = new float[_batch * _perImage];
        var ok = new bool[_batch];
        var errors = new string?[_batch];
        var rows = new List<int>(_batch);
        var probabilities = new double[classes];
        int predicted = 0, skipped = 0;
        for (int start = 0; start < inputs.Count; start += _batch)
        {
            int n = Math.Min(_batch, inputs.Count - start);
            Parallel.For(0, n, i => ok[i] = Prepare(inputs, start + i, staged.AsSpan(i * _perImage, _perImage), out errors[i]));
            rows.Clear();
            for (int i = 0; i < n; i++)
            {
                if (ok[i]) { Stage(staged.AsSpan(i * _perImage, _perImage), rows.Count); rows.Add(start + i); }
                else { skipped++; warn($"skipping '{inputs.Name(start + i)}': {errors[i]}"); }
            }
            if (rows.Count == 0) { progress?.Invoke(start + n); continue; }
            _binding.Run();
            for (int r = 0; r < rows.Count; r++)
            {
                if (_logits is not null) onPrediction(new Prediction(inputs.Name(rows[r]), Top(_logits.HostSpan<float>().Slice(r * classes, classes), topK, probabilities)));
                else onPrediction(new Prediction(inputs.Name(rows[r]), []));
                if (onEmbedding is not null) onEmbedding(_embedding.HostSpan<float>().Slice(r * dim, dim));
            }
            predicted += rows.Count;
            progress?.Invoke(start + n);
        }
        return new PredictionSummary(predicted, skipped, clock.Elapsed.TotalSeconds);
    }

    private bool Prepare(PredictionInputs inputs, int item, Span<float> dst, out string? error)
    {
        var s = _scratch.Value!;
        if (!inputs.TryDecode(item, Metadata.Channels, ref s.Decoded, out int w, out int h, out error)) return false;
        var rng = CounterRng.For(0, RngStream.Evaluation, 0, item);
        s.Augmenter.Augment(s.Decoded.AsSpan(0, w * h * Metadata.Channels), w, h, _view, ref rng, dst);
        return true;
    }

    /// <summary>Copies one prepared CHW image into input row <paramref name="row"/>: as it is, or as NHWC bytes for a uint8 model.</summary>
    private void Stage(ReadOnlySpan<float> chw, int row)
    {
        if (!Metadata.NormalisedInGraph)
        {
            chw.CopyTo(_input.HostSpan<float>().Slice(row * _perImage, _perImage));
            return;
        }
        var dst = _input.HostSpan<byte>().Slice(row * _perImage, _perImage);
        int c = Metadata.Channels, plane = _perImage / c;
        for (int p = 0; p < plane; p++)
            for (int k = 0; k < c; k++)
                dst[p * c + k] = (byte)Math.Clamp((int)MathF.Round(chw[k * plane + p] * 255f), 0, 255);
    }

    /// <summary>Softmax (in double, max-subtracted) and the <paramref name="k"/> most probable classes, ties to the lower index.</summary>
    private IReadOnlyList<(int, string, float)> Top(ReadOnlySpan<float> logits, int k, double[] p)
    {
        float max = float.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += p[i] = Math.Exp(logits[i] - max);
        var top = new List<(int, string, float)>(k);
        var taken = new bool[logits.Length];
        for (int j = 0; j < k; j++)
        {
            int best = -1;
            for (int i = 0; i < logits.Length; i++)
                if (!taken[i] && (best < 0 || logits[i] > logits[best])) best = i;
            taken[best] = true;
            top.Add((best, Metadata.ClassNames[best], (float)(p[best] / sum)));
        }
        return top;
    }

    public void Dispose()
    {
        _binding.Dispose();
        _runner.Dispose();
        _io.Dispose();
        _scratch.Dispose();
    }
}

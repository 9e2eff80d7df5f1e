using SemPPL.Data.Random;

namespace SemPPL.Trainer.Training;

/// <summary>
/// The random tensors a step feeds to its graphs, drawn on the host from (seed, step) alone so a
/// resumed run draws exactly what the uninterrupted run drew. Buffers are allocated once (pinned, so
/// ONNX Runtime wraps them without a copy) and refilled each step.
/// </summary>
public sealed class StepRandomness
{
    private readonly int _seed, _largeViews, _batch, _negatives, _positives;
    private readonly int[] _scratch;

    public StepRandomness(int seed, int largeViews, int batch, int negatives, int semanticPositives)
    {
        if (negatives > batch - 1)
            throw new ArgumentException($"objective.negatives = {negatives} needs at least {negatives + 1} images a batch; the batch has {batch}");
        _seed = seed; _largeViews = largeViews; _batch = batch; _negatives = negatives; _positives = semanticPositives;
        Negatives = GC.AllocateArray<long>(largeViews * batch * negatives, pinned: true);
        Uniforms = GC.AllocateArray<float>(batch * semanticPositives, pinned: true);
        _scratch = new int[batch - 1];
    }

    /// <summary>[L, B, nNeg]: for each target view and image, other images of the batch, without replacement.</summary>
    public long[] Negatives { get; }
    /// <summary>[B, nSp] in [0, 1): picks semantic positives among the matching queue entries.</summary>
    public float[] Uniforms { get; }

    public void Fill(long step)
    {
        for (int l = 0; l < _largeViews; l++)
            for (int i = 0; i < _batch; i++)
            {
                var rng = CounterRng.For(_seed, RngStream.Negatives, step, l, i);
                // Partial Fisher-Yates over the other B-1 images: the first nNeg are a uniform draw without replacement.
                for (int j = 0, k = 0; j < _batch; j++) if (j != i) _scratch[k++] = j;
                int offset = (l * _batch + i) * _negatives;
                for (int n = 0; n < _negatives; n++)
                {
                    int pick = n + rng.NextInt(_batch - 1 - n);
                    (_scratch[n], _scratch[pick]) = (_scratch[pick], _scratch[n]);
                    Negatives[offset + n] = _scratch[n];
                }
            }
        for (int i = 0; i < _batch; i++)
        {
            var rng = CounterRng.For(_seed, RngStream.SemanticPositives, step, i);
            for (int s = 0; s < _positives; s++)
                Uniforms[i * _positives + s] = (float)Math.Min(rng.NextDouble(), 0.99999994);
        }
    }
}

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
    private readonly int[] _rows;
    private readonly int[] _scratch;

    /// <param name="batch">The whole job's batch (negatives are drawn among all of its images).</param>
    /// <param name="rows">The job positions this process draws for, in its batch order (a rank's images,
    /// <see cref="SemPPL.Data.Pipeline.RankSlice"/>); null: every position, 0..batch-1. Each row's draws depend on its job position
    /// alone, so a rank draws exactly its rows of the one-process tensors.</param>
    public StepRandomness(int seed, int largeViews, int batch, int negatives, int semanticPositives, int[]? rows = null)
    {
        if (negatives > batch - 1)
            throw new ArgumentException($"objective.negatives = {negatives} needs at least {negatives + 1} images a batch; the batch has {batch}");
        _seed = seed; _largeViews = largeViews; _batch = batch; _negatives = negatives; _positives = semanticPositives;
        _rows = rows ?? Enumerable.Range(0, batch).ToArray();
        Negatives = GC.AllocateArray<long>(largeViews * _rows.Length * negatives, pinned: true);
        Uniforms = GC.AllocateArray<float>(_rows.Length * semanticPositives, pinned: true);
        _scratch = new int[batch - 1];
    }

    /// <summary>[L, rows, nNeg]: for each target view and image, other images of the job's batch (job positions), without replacement.</summary>
    public long[] Negatives { get; }
    /// <summary>[rows, nSp] in [0, 1): picks semantic positives among the matching queue entries.</summary>
    public float[] Uniforms { get; }

    public void Fill(long step)
    {
        int rows = _rows.Length;
        for (int l = 0; l < _largeViews; l++)
            for (int r = 0; r < rows; r++)
            {
                int i = _rows[r];
                var rng = CounterRng.For(_seed, RngStream.Negatives, step, l, i);
                // Partial Fisher-Yates over the other B-1 images: the first nNeg are a uniform draw without replacement.
                for (int j = 0, k = 0; j < _batch; j++) if (j != i) _scratch[k++] = j;
                int offset = (l * rows + r) * _negatives;
                for (int n = 0; n < _negatives; n++)
                {
                    int pick = n + rng.NextInt(_batch - 1 - n);
                    (_scratch[n], _scratch[pick]) = (_scratch[pick], _scratch[n]);
                    Negatives[offset + n] = _scratch[n];
                }
            }
        for (int r = 0; r < rows; r++)
        {
            var rng = CounterRng.For(_seed, RngStream.SemanticPositives, step, _rows[r]);
            for (int s = 0; s < _positives; s++)
                Uniforms[r * _positives + s] = (float)Math.Min(rng.NextDouble(), 0.99999994);
        }
    }
}

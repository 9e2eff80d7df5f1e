using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.DataParallel;

/// <summary>
/// The BatchNorm running statistics of a data-parallel job (online and target), averaged over the ranks whenever they
/// leave the step: before each checkpoint, and so at the end. Each rank updates them from its own batch statistics; the
/// update (and the target's EMA of them) is linear in those statistics and nothing in the step reads them, so averaging
/// at a checkpoint gives exactly what averaging after every step would (to float rounding), without a collective per step.
/// </summary>
public sealed class ReplicaStatistics
{
    private readonly string[] _names;
    private readonly long[] _counts;
    private readonly float[] _flat;

    public ReplicaStatistics(Manifest manifest)
    {
        var buffers = manifest.Buffers.Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
        var entries = manifest.State.Where(s => buffers.Contains(s.Name) || (s.CopyOf is not null && buffers.Contains(s.CopyOf))).ToList();
        _names = entries.Select(s => s.Name).ToArray();
        _counts = entries.Select(s => s.Shape.Aggregate(1L, (a, d) => a * d)).ToArray();
        _flat = new float[_counts.Sum()];
    }

    /// <summary>State tensors averaged (BatchNorm running means and variances).</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Replaces this rank's running statistics with the mean over the ranks (every rank calls it at the same step).</summary>
    public void Average(StepGraphs graphs, ICommunicator host)
    {
        if (_names.Length == 0) return;
        long offset = 0;
        for (int i = 0; i < _names.Length; i++)
        {
            graphs.State.Current(_names[i]).Download<float>(_flat.AsSpan((int)offset, (int)_counts[i]));
            offset += _counts[i];
        }
        host.AllReduce(_flat, ReduceOperation.Average);
        offset = 0;
        for (int i = 0; i < _names.Length; i++)
        {
            graphs.State.Current(_names[i]).Upload<float>(_flat.AsSpan((int)offset, (int)_counts[i]));
            offset += _counts[i];
        }
    }
}

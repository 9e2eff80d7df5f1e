using SemPPL.Data.Pipeline;
using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.DataParallel;

/// <summary>
/// What every rank must agree on after a step, in one small host all-reduce: the loss parts and classifier accuracy
/// (averaged, so each rank logs the job's values and takes the same NaN decision), the pseudo-label score, and whether
/// any rank was asked to stop (a signal reaches the ranks at different steps; all stop after the same one).
/// Rank means are the job's: every rank has the same number of images and the train graph scales its semantic-positive
/// term by the job's count.
/// </summary>
public sealed class JobAgreement(StepGraphs graphs, ICommunicator host)
{
    private readonly (string Name, HostRole Role)[] _results = graphs.LossResults.ToArray();
    private readonly float[] _values = new float[graphs.LossResults.Count + 3];

    /// <summary>Averages this step's results over the ranks and writes them back; returns the job's pseudo-label score and whether to stop.</summary>
    public (PseudoLabelScore Pseudo, bool Stop) Reduce(Batch batch, bool stopRequested)
    {
        int n = _results.Length;
        for (int i = 0; i < n; i++) _values[i] = graphs.Tensors[_results[i].Role].HostSpan<float>()[0];
        var score = PseudoLabelScore.Of(graphs.PseudoLabels.HostSpan<long>(), batch.UnlabelledTrueLabels);
        _values[n] = score.Correct;
        _values[n + 1] = score.Known;
        _values[n + 2] = stopRequested ? 1 : 0;
        host.AllReduce(_values, ReduceOperation.Average);
        for (int i = 0; i < n; i++) graphs.Tensors[_results[i].Role].HostSpan<float>()[0] = _values[i];
        int ranks = host.WorldSize;
        return (new PseudoLabelScore((long)Math.Round(_values[n] * ranks), (long)Math.Round(_values[n + 1] * ranks)), _values[n + 2] > 0);
    }
}

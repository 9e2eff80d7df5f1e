using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Trainer.Training;

/// <summary>Stops the run when a loss part of the step is NaN or infinite.</summary>
public sealed class DivergenceCheck(StepGraphs graphs)
{
    // The parts first, so a divergence names the term that broke rather than the total (ordered once, not per step).
    private readonly (string Name, HostRole Role)[] _order = graphs.LossResults.OrderBy(r => r.Role == HostRole.Loss ? 1 : 0).ToArray();

    /// <exception cref="TrainingDivergedException">names the step, the loss part and the last good checkpoint.</exception>
    public void Check(long step, long? lastCheckpoint)
    {
        foreach (var (name, role) in _order)
        {
            float v = graphs.Tensors[role].HostSpan<float>()[0];
            if (!float.IsFinite(v)) throw new TrainingDivergedException(step, name, v, lastCheckpoint);
        }
    }
}

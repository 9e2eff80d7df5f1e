namespace SemPPL.Trainer.Training;

/// <summary>A loss part became NaN or infinite; the run stops and keeps its last good checkpoint.</summary>
public sealed class TrainingDivergedException(long step, string lossPart, float value, long? lastCheckpointStep)
    : Exception($"training diverged at step {step}: {lossPart} = {value}. " +
                (lastCheckpointStep is { } c ? $"The last good checkpoint (step {c}) is kept; " : "No checkpoint was written yet; ") +
                "lower optimizer.base_lr or raise training.warmup_steps, then resume or restart.")
{
    public long Step { get; } = step;
    public string LossPart { get; } = lossPart;
}

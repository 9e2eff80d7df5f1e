using SemPPL.Config;
using SemPPL.Data.Pipeline;

namespace SemPPL.Trainer.Training;

/// <summary>The scalars the schedules give one step.</summary>
public readonly record struct StepSchedule(double LearningRate, double EmaDecay);

/// <summary>
/// Fills a step's host inputs: the batch, the random tensors drawn for (seed, step), the learning rate, the optimizer's
/// step count and the EMA decay. Everything is a function of the batch's step, so a resumed run feeds the same values.
/// </summary>
public sealed class StepInputs(StepGraphs graphs, SemPPLConfig config, ResolvedConfig resolved)
{
    private readonly StepRandomness _randomness = new(config.Seed, graphs.Manifest.Shapes.LargeViews, graphs.Manifest.Shapes.Batch,
        graphs.Manifest.Shapes.Negatives, graphs.Manifest.Shapes.SemanticPositives);

    public StepSchedule Stage(Batch batch)
    {
        long step = batch.Step;
        batch.Large.AsSpan().CopyTo(graphs.ViewsLarge.HostSpan<float>());
        if (graphs.ViewsSmall is { } small) batch.Small.AsSpan().CopyTo(small.HostSpan<float>());
        batch.Labels.AsSpan().CopyTo(graphs.Labels.HostSpan<long>());
        _randomness.Fill(step);
        _randomness.Negatives.AsSpan().CopyTo(graphs.NegativeIndices.HostSpan<long>());
        _randomness.Uniforms.AsSpan().CopyTo(graphs.UniformDraws.HostSpan<float>());
        double lr = Schedules.LearningRate(step, resolved.TotalSteps, resolved.WarmupSteps, resolved.LearningRate);
        double tau = Schedules.EmaDecay(step, resolved.TotalSteps, config.Training.EmaBase);
        graphs.LearningRate.HostSpan<float>()[0] = (float)lr;
        if (graphs.OptimizerStep is { } optimizerStep) optimizerStep.HostSpan<float>()[0] = step + 1;
        graphs.EmaDecay.HostSpan<float>()[0] = (float)tau;
        return new StepSchedule(lr, tau);
    }
}

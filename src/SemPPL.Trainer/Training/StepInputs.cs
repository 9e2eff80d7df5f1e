using SemPPL.Config;
using SemPPL.Data.Pipeline;
using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Trainer.Training;

/// <summary>The scalars the schedules give one step.</summary>
public readonly record struct StepSchedule(double LearningRate, double EmaDecay);

/// <summary>
/// Fills a step's host inputs: the batch, the random tensors drawn for (seed, step), the learning rate, the optimizer's
/// step count and the EMA decay. Everything is a function of the batch's step, so a resumed run feeds the same values.
/// A rank of a data-parallel job draws the rows of its images (<see cref="RankSlice"/>) among the whole job's batch and,
/// where the set asks for it, feeds their job positions.
/// </summary>
public sealed class StepInputs
{
    private readonly StepGraphs _graphs;
    private readonly SemPPLConfig _config;
    private readonly ResolvedConfig _resolved;
    private readonly StepRandomness _randomness;

    public StepInputs(StepGraphs graphs, SemPPLConfig config, ResolvedConfig resolved, RankSlice slice)
    {
        var s = graphs.Manifest.Shapes;
        if (slice.Batch != s.Batch || slice.JobBatch != s.GlobalBatch)
            throw new InvalidDataException($"the artifact set is for {s.WorldSize} rank(s) of {s.Batch} images but this rank holds {slice.Batch} of {slice.JobBatch}; regenerate it");
        (_graphs, _config, _resolved) = (graphs, config, resolved);
        _randomness = new StepRandomness(config.Seed, s.LargeViews, s.GlobalBatch, s.Negatives, s.SemanticPositives,
            slice.IsWhole ? null : Enumerable.Range(0, slice.Batch).Select(slice.JobPosition).ToArray());
        if (graphs.Tensors.Has(HostRole.GlobalIndex))
        {
            var index = graphs.Tensors[HostRole.GlobalIndex].HostSpan<long>();
            for (int i = 0; i < index.Length; i++) index[i] = slice.JobPosition(i);
        }
    }

    public StepSchedule Stage(Batch batch)
    {
        var graphs = _graphs;
        long step = batch.Step;
        batch.Large.AsSpan().CopyTo(graphs.ViewsLarge.HostSpan<float>());
        if (graphs.ViewsSmall is { } small) batch.Small.AsSpan().CopyTo(small.HostSpan<float>());
        batch.Labels.AsSpan().CopyTo(graphs.Labels.HostSpan<long>());
        _randomness.Fill(step);
        _randomness.Negatives.AsSpan().CopyTo(graphs.NegativeIndices.HostSpan<long>());
        _randomness.Uniforms.AsSpan().CopyTo(graphs.UniformDraws.HostSpan<float>());
        var (config, resolved) = (_config, _resolved);
        double lr = Schedules.LearningRate(step, resolved.TotalSteps, resolved.WarmupSteps, resolved.LearningRate);
        double tau = Schedules.EmaDecay(step, resolved.TotalSteps, config.Training.EmaBase);
        graphs.LearningRate.HostSpan<float>()[0] = (float)lr;
        if (graphs.OptimizerStep is { } optimizerStep) optimizerStep.HostSpan<float>()[0] = step + 1;
        graphs.EmaDecay.HostSpan<float>()[0] = (float)tau;
        return new StepSchedule(lr, tau);
    }
}

using SemPPL.Config;
using SemPPL.Data.Pipeline;
using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Trainer.Training;

/// <summary>The scalars the schedules give one step.</summary>
public readonly record struct StepSchedule(double LearningRate, double EmaDecay);

/// <summary>
/// Fills a step's host inputs: the batch, the random tensors drawn for (seed, step), the learning rate, the optimizer's
/// step count and the EMA decay. Everything is a function of the batch's step, so a resumed run feeds the same values.
/// The random tensors are drawn for the whole job's batch; a rank of a data-parallel job feeds the rows of its images
/// (<see cref="RankSlice"/>) and, where the set asks for it, their job positions.
/// </summary>
public sealed class StepInputs
{
    private readonly StepGraphs _graphs;
    private readonly SemPPLConfig _config;
    private readonly ResolvedConfig _resolved;
    private readonly RankSlice _slice;
    private readonly StepRandomness _randomness;

    public StepInputs(StepGraphs graphs, SemPPLConfig config, ResolvedConfig resolved, RankSlice slice)
    {
        var s = graphs.Manifest.Shapes;
        if (slice.Batch != s.Batch || slice.JobBatch != s.GlobalBatch)
            throw new InvalidDataException($"the artifact set is for {s.WorldSize} rank(s) of {s.Batch} images but this rank holds {slice.Batch} of {slice.JobBatch}; regenerate it");
        (_graphs, _config, _resolved, _slice) = (graphs, config, resolved, slice);
        _randomness = new StepRandomness(config.Seed, s.LargeViews, s.GlobalBatch, s.Negatives, s.SemanticPositives);
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
        if (_slice.IsWhole)
        {
            _randomness.Negatives.AsSpan().CopyTo(graphs.NegativeIndices.HostSpan<long>());
            _randomness.Uniforms.AsSpan().CopyTo(graphs.UniformDraws.HostSpan<float>());
        }
        else CopyRankRows();
        var (config, resolved) = (_config, _resolved);
        double lr = Schedules.LearningRate(step, resolved.TotalSteps, resolved.WarmupSteps, resolved.LearningRate);
        double tau = Schedules.EmaDecay(step, resolved.TotalSteps, config.Training.EmaBase);
        graphs.LearningRate.HostSpan<float>()[0] = (float)lr;
        if (graphs.OptimizerStep is { } optimizerStep) optimizerStep.HostSpan<float>()[0] = step + 1;
        graphs.EmaDecay.HostSpan<float>()[0] = (float)tau;
        return new StepSchedule(lr, tau);
    }

    /// <summary>Negatives [L, B, nNeg] and draws [B, nSp] of the job's batch: the rows of this rank's images.</summary>
    private void CopyRankRows()
    {
        var negatives = _graphs.NegativeIndices.HostSpan<long>();
        var uniforms = _graphs.UniformDraws.HostSpan<float>();
        var s = _graphs.Manifest.Shapes;
        int b = _slice.Batch, jobB = _slice.JobBatch, nNeg = s.Negatives, nSp = s.SemanticPositives;
        for (int i = 0; i < b; i++)
        {
            int job = _slice.JobPosition(i);
            for (int l = 0; l < s.LargeViews; l++)
                _randomness.Negatives.AsSpan((l * jobB + job) * nNeg, nNeg).CopyTo(negatives.Slice((l * b + i) * nNeg, nNeg));
            _randomness.Uniforms.AsSpan(job * nSp, nSp).CopyTo(uniforms.Slice(i * nSp, nSp));
        }
    }
}

using SemPPL.GraphGen.Artifacts;
using SemPPL.Config;
using SemPPL.GraphGen.Graphs;

namespace SemPPL.GraphGen.Optimizers;

/// <summary>Builds optimizer.onnx for the optimizer named in the config (lars | sgd | adamw).</summary>
public static class OptimizerGraphFactory
{
    public static BuiltGraph Build(OptimizerConfig config, IReadOnlyList<OptimizerParameter> parameters)
    {
        switch (config.Name.Trim().ToLowerInvariant())
        {
            case KnownNames.Lars:
                return LarsOptimizerGraph.Build(parameters, config.Momentum, config.WeightDecay, config.TrustCoefficient);
            case KnownNames.Sgd:
                return SgdOptimizerGraph.Build(parameters, config.Momentum, config.WeightDecay, config.Nesterov);
            case KnownNames.AdamW:
                if (config.Betas is not { Length: 2 }) throw new ArgumentException("optimizer.betas must have two entries for adamw");
                return AdamWOptimizerGraph.Build(parameters, config.Betas[0], config.Betas[1], config.Epsilon, config.WeightDecay);
            default:
                throw new ArgumentException($"unknown optimizer '{config.Name}'; expected one of {string.Join(", ", KnownNames.Optimizers)}");
        }
    }

    /// <summary>The optimizer-state slots of an optimizer (each has one tensor per parameter, zero-initialised).</summary>
    public static IReadOnlyList<string> StateSlots(OptimizerConfig config) => config.Name.Trim().ToLowerInvariant() switch
    {
        KnownNames.Lars => [ArtifactNames.MomentumSlot],
        KnownNames.Sgd => config.Momentum != 0 ? [ArtifactNames.MomentumSlot] : [],
        KnownNames.AdamW => [ArtifactNames.AdamMSlot, ArtifactNames.AdamVSlot],
        _ => throw new ArgumentException($"unknown optimizer '{config.Name}'"),
    };
}

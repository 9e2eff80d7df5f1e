namespace SemPPL.GraphGen.Optimizers;

/// <summary>
/// One trainable parameter as the optimizer graphs see it. Biases and BatchNorm parameters are
/// excluded from weight decay and from the LARS trust ratio (docs/method.md, "Optimisation").
/// </summary>
public sealed record OptimizerParameter(string Name, long[] Shape, bool ExcludeFromWeightDecay, bool ExcludeFromLars);

namespace SemPPL.GraphGen.Optimizers;

/// <summary>
/// One trainable parameter as the optimizer graphs see it. Biases and BatchNorm parameters are
/// excluded from weight decay and from the LARS trust ratio (docs/method.md, "Optimisation").
/// </summary>
public sealed record OptimizerParameter(string Name, long[] Shape, bool ExcludeFromWeightDecay, bool ExcludeFromLars);

/// <summary>Graph I/O names of the optimizer graphs; the trainer binds by these names.</summary>
public static class OptimizerNames
{
    public const string LearningRate = "lr";
    /// <summary>1-based step count (float scalar); only AdamW reads it.</summary>
    public const string Step = "step";
    public const string MomentumSlot = "momentum";
    public const string AdamMSlot = "m";
    public const string AdamVSlot = "v";

    public static string Param(string name) => $"param.{name}";
    public static string Grad(string name) => $"grad.{name}";
    public static string State(string slot, string name) => $"state.{slot}.{name}";
    public static string NewParam(string name) => $"new.param.{name}";
    public static string NewState(string slot, string name) => $"new.state.{slot}.{name}";
}

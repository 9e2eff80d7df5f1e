using SemPPL.Config;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>The graph form that the config key <c>model.channel_reduction</c> names.</summary>
public static class ChannelReductionSetting
{
    public static ChannelReductionForm Of(ModelConfig model) => model.ChannelReduction switch
    {
        KnownNames.ChannelReductionDirect => ChannelReductionForm.Direct,
        KnownNames.ChannelReductionTwoStage => ChannelReductionForm.TwoStage,
        var v => throw new ArgumentException($"model.channel_reduction: '{v}' is not one of {string.Join(", ", KnownNames.ChannelReductions)}"),
    };
}

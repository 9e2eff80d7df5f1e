using System.Globalization;

namespace SemPPL.Config;

/// <summary>
/// The names a config may use where graphgen or the runtime give them a meaning: backbones, stems, channel reductions, optimizers, the
/// <c>onnx:</c> backbone prefix and the device syntax. Defined once, here (graphgen and the trainer both reference
/// this project): the validator checks against these lists and the code that acts on a name uses the same constants.
/// </summary>
public static class KnownNames
{
    /// <summary>A backbone given as an ONNX forward file: <c>onnx:&lt;path&gt;</c>.</summary>
    public const string OnnxBackbonePrefix = "onnx:";

    /// <summary>The selective-kernel variant of a ResNet: <c>sk_resnet50</c>.</summary>
    public const string SelectiveKernelPrefix = "sk_";

    /// <summary>Built-in backbones (torchvision ResNets and SimCLRv2's SK-ResNets), in the order error messages list them.</summary>
    public static readonly IReadOnlyList<string> Backbones =
        ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200",
         "sk_resnet18", "sk_resnet34", "sk_resnet50", "sk_resnet101", "sk_resnet152"];

    public const string StemImageNet = "imagenet";
    public const string StemSmall = "small";
    public const string StemSmallStride2 = "small-s2";
    public static readonly IReadOnlyList<string> Stems = [StemImageNet, StemSmall, StemSmallStride2];

    /// <summary>model.channel_reduction: one reduction over axes {0, 2, 3}, or two over contiguous axes.</summary>
    public const string ChannelReductionDirect = "direct";
    public const string ChannelReductionTwoStage = "two_stage";
    public static readonly IReadOnlyList<string> ChannelReductions = [ChannelReductionDirect, ChannelReductionTwoStage];

    public const string Lars = "lars";
    public const string Sgd = "sgd";
    public const string AdamW = "adamw";
    public static readonly IReadOnlyList<string> Optimizers = [Lars, Sgd, AdamW];
}

/// <summary>The <c>device</c> syntax: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (case-insensitive, blanks ignored).</summary>
public static class DeviceSyntax
{
    public const string Auto = "auto";
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";
    public const string Allowed = "auto, cpu, cuda, cuda:N (N a device index such as cuda:0)";

    /// <summary>Splits a device value into its kind (<see cref="Auto"/>, <see cref="Cpu"/> or <see cref="Cuda"/>) and CUDA device index.</summary>
    public static bool TryParse(string? value, out string kind, out int index)
    {
        kind = "";
        index = 0;
        if (value is null) return false;
        var v = value.Trim().ToLowerInvariant();
        if (v is Auto or Cpu or Cuda)
        {
            kind = v;
            return true;
        }
        if (v.StartsWith(Cuda + ":", StringComparison.Ordinal)
            && int.TryParse(v.AsSpan(Cuda.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            kind = Cuda;
            index = id;
            return true;
        }
        return false;
    }
}

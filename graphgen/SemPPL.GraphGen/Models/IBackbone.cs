using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>An encoder f: images [B, C, H, W] -> global-average-pooled features [B, FeatureDim].</summary>
public interface IBackbone
{
    string Name { get; }
    long FeatureDim { get; }

    /// <summary>
    /// Builds the forward into <paramref name="ctx"/>'s graph. Parameters and buffers are requested from the
    /// context under "encoder." (torchvision names below it), so calling Forward again (another view) reuses
    /// the same parameters and, in Training mode, chains the running statistics.
    /// </summary>
    Value Forward(ModelContext ctx, Value images);
}

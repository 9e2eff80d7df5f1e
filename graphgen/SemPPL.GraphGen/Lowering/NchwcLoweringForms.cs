namespace SemPPL.GraphGen.Lowering;

/// <summary>The optional rewrites of the CPU lowering (<see cref="WinogradConvLowering"/>, <see cref="NchwcConvLowering"/>,
/// <see cref="ZeroMaskLowering"/>), each on by default; off only for A/B benchmarks.</summary>
/// <param name="WeightGradientProducts">Conv weight-gradient products as pointwise NCHWc convolutions (else MatMul).</param>
/// <param name="StridedInputGradients">Strided ConvTranspose as per-phase NCHWc convolutions (else ORT's ConvTranspose).</param>
/// <param name="ZeroMasksAsMul">Where(mask, x, 0) as Mul(x, Cast(mask)) (else ORT's Where).</param>
/// <param name="WinogradSmallImages">3x3 convolutions of small images with many channels as Winograd products (else NCHWc).</param>
public sealed record NchwcLoweringForms(bool WeightGradientProducts = true, bool StridedInputGradients = true, bool ZeroMasksAsMul = true,
                                        bool WinogradSmallImages = true)
{
    public static NchwcLoweringForms All { get; } = new();

    /// <summary>What is off, for benchmark headers and cache keys: "" when all forms are on.</summary>
    public string Exceptions => string.Join(", ", new[]
    {
        WeightGradientProducts ? null : "weight-gradient products as MatMul",
        StridedInputGradients ? null : "strided input gradients as ConvTranspose",
        ZeroMasksAsMul ? null : "zero masks as Where",
        WinogradSmallImages ? null : "small-image 3x3 convolutions direct",
    }.OfType<string>());
}

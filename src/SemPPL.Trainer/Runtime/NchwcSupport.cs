using Microsoft.ML.OnnxRuntime;
using Onnx;
using SemPPL.GraphGen.Lowering;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Whether, and with which block size, the loaded ONNX Runtime build runs the NCHWc convolution kernels that
/// <see cref="NchwcConvLowering"/> targets (x64 with AVX2: 8, AVX-512: 16; none on builds without the
/// com.microsoft.nchwc domain). Probed once per process by running <see cref="NchwcConvLowering.ProbeModel"/>.
/// </summary>
public static class NchwcSupport
{
    private static readonly Lazy<int> Probed = new(Probe);

    /// <summary>The NCHWc block size, or 1 when this ORT build has no NCHWc kernels.</summary>
    public static int BlockSize => Probed.Value;

    /// <summary>The lowering's optional rewrites (default all); the step benchmark turns them off for its A/Bs
    /// (<c>--weight-gradient-product</c>, <c>--strided-input-gradient</c>, <c>--zero-mask</c>).</summary>
    public static NchwcLoweringForms Forms { get; set; } = NchwcLoweringForms.All;

    /// <summary>A lowered copy of <paramref name="model"/> (ONNX bytes), or the same bytes when nothing lowers or
    /// the build has no NCHWc kernels.</summary>
    public static byte[] Lower(byte[] model)
    {
        if (BlockSize <= 1) return model;
        ModelProto proto;
        try { proto = ModelProto.Parser.ParseFrom(model); }
        catch (Google.Protobuf.InvalidProtocolBufferException) { return model; } // not a model: ORT says so, with the graph's name
        // Winograd first: the convolutions it takes are no longer Conv nodes for the NCHWc rewrite
        int lowered = (Forms.WinogradSmallImages ? WinogradConvLowering.Lower(proto) : 0) + NchwcConvLowering.Lower(proto, BlockSize, Forms)
                      + (Forms.ZeroMasksAsMul ? ZeroMaskLowering.Lower(proto) : 0);
        return lowered > 0 ? Google.Protobuf.MessageExtensions.ToByteArray(proto) : model;
    }

    private static int Probe()
    {
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            using var session = new InferenceSession(NchwcConvLowering.ProbeModel(), options);
            using var x = OrtValue.CreateTensorValueFromMemory(new float[4], [1, 4, 1, 1]);
            using var run = new RunOptions();
            using var y = session.Run(run, ["x"], [x], ["y"]);
            return (int)y[0].GetTensorTypeAndShape().Shape[1];
        }
        catch (OnnxRuntimeException)
        {
            return 1; // no com.microsoft.nchwc kernels in this build (or not on this CPU)
        }
    }
}

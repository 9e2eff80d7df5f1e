namespace SemPPL.GraphGen.Onnx;

/// <summary>How a graph reduces an [N, C, H, W] tensor to one value per channel (axes {0, 2, 3}): training BatchNorm's
/// statistics and backward sums, bias gradients, un-broadcasting of per-channel operands.</summary>
public enum ChannelReductionForm
{
    /// <summary>One ReduceSum/ReduceMean over axes {0, 2, 3}.</summary>
    Direct,
    /// <summary>Reshape to [N, C, H*W], reduce the last axis, then the first: two reductions over contiguous axes.
    /// ORT's CUDA kernels are fast only for axes contiguous at the front or the back; {0, 2, 3} takes a generic cuDNN
    /// path there. Same values (a sum of partial sums; a mean of equal-count means).</summary>
    TwoStage,
}

public sealed partial class GraphBuilder
{
    /// <summary>The form of every later ReduceSum/ReduceMean over axes {0, 2, 3} of a rank-4 tensor (default Direct).
    /// Set it once, before the graph is built, so the forward and its gradient take the same form.</summary>
    public ChannelReductionForm ChannelReduction { get; set; } = ChannelReductionForm.Direct;

    /// <summary>The two-stage form of a per-channel Sum/Mean when <see cref="ChannelReduction"/> asks for it and the
    /// reduction is one (rank 4, axes exactly {0, 2, 3}); otherwise null (the caller builds the direct node).</summary>
    private Value? TwoStageChannelReduction(string op, Value x, HashSet<int> axes, bool keepDims)
    {
        if (ChannelReduction != ChannelReductionForm.TwoStage || op is not ("ReduceSum" or "ReduceMean")
            || x.Rank != 4 || !x.IsStatic || axes.Count != 3 || axes.Contains(1)) return null;
        long n = x.Shape[0], c = x.Shape[1];
        var perSample = Reduce(op, Reshape(x, n, c, x.Shape[2] * x.Shape[3]), [2], keepDims: false); // [N, C]
        var perChannel = Reduce(op, perSample, [0], keepDims: false);                                 // [C]
        return keepDims ? Reshape(perChannel, 1, c, 1, 1) : perChannel;
    }
}

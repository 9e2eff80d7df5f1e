using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Graphs;

/// <summary>
/// pseudolabel.onnx: k-NN pseudo-labels against the queue and semantic-positive selection
/// (docs/method.md, steps 3-4). N = Bu + Bl images per step.
/// <para>Inputs: <c>target.unlabelled</c> float[L,Bu,D] (unit vectors), <c>labels</c> int64[Bl],
/// <c>queue.embeddings</c> float[C,D], <c>queue.labels</c> int64[C], <c>queue.count</c> int64[]
/// (slots 0..count-1 are valid), <c>uniforms</c> float[N,nSp] in [0,1) from the host RNG.</para>
/// <para>Outputs: <c>pseudo_labels</c> int64[Bu] (-1 when the queue is empty), <c>batch_labels</c>
/// int64[N] (pseudo-labels then true labels), <c>positives</c> float[N,nSp,D], <c>positive_mask</c> float[N].</para>
/// <para>Pseudo-label: for each unlabelled image and each of the L views, the k valid queue entries of
/// largest dot product (TopK; equal values: lower slot first) vote with their labels; the label
/// maximising votes * (2kL + 1) + summed similarity of its votes wins (most votes, ties broken by the
/// larger summed similarity; remaining exact ties: the smaller label).</para>
/// <para>Semantic positives: for image i with label y_i, let n_i be the number of valid entries labelled
/// y_i; draw s uses the j-th of them in slot order, j = min(floor(u[i,s] * n_i), n_i - 1). Rows with
/// n_i = 0 get zeros and <c>positive_mask</c> 0.</para>
/// Memory: the similarity matrix is [L,Bu,C] and the selection works on [N,2C] int64 tables.
/// </summary>
public static class PseudoLabelGraph
{
    /// <summary>Masked-out similarity: below any dot product of unit vectors.</summary>
    private const float Excluded = -1e9f;

    /// <param name="passPositiveCount">Data-parallel sets: also output <c>positive_count</c> float [] = sum of positive_mask
    /// (passed; summed over the ranks for train.onnx's semantic-positive normaliser).</param>
    public static BuiltGraph Build(long largeViews, long batchUnlabelled, long batchLabelled, long capacity, long dim,
        long k, long semanticPositives, long numClasses, bool passPositiveCount = false)
    {
        long L = largeViews, Bu = batchUnlabelled, Bl = batchLabelled, C = capacity, D = dim, nSp = semanticPositives;
        if (L < 1 || Bu < 1 || Bl < 1 || C < 1 || D < 1 || nSp < 1 || numClasses < 1)
            throw new ArgumentException("pseudolabel graph: every size must be positive");
        if (k < 1 || k > C) throw new ArgumentException($"pseudolabel graph: k = {k} must be in [1, C = {C}]");
        long N = Bu + Bl;

        var g = new GraphBuilder("pseudolabel")
        {
            DocString = $"k-NN pseudo-labels (k {k}, L {L}) and {nSp} semantic positives per image against a queue of {C}",
        };
        var z = g.Input(TargetUnlabelled, DType.Float, L, Bu, D);
        var labels = g.Input(Labels, DType.Int64, Bl);
        var qe = g.Input(QueueEmbeddings, DType.Float, C, D);
        var ql = g.Input(QueueLabels, DType.Int64, C);
        var count = g.Input(QueueCount, DType.Int64);
        var uniforms = g.Input(Uniforms, DType.Float, N, nSp);

        var slots = g.Int64s(Enumerable.Range(0, checked((int)C)).Select(i => (long)i).ToArray());
        var valid = g.Less(slots, count);                                   // [C] bool

        // ---- k-NN pseudo-labels
        var pseudo = g.InScope("knn/", () =>
        {
            var sims = g.MatMul(z, g.Transpose(qe, 1, 0));                  // [L,Bu,C]
            var masked = g.Where(valid, sims, g.Scalar(Excluded));
            var (topV, topI) = g.TopK(masked, k, axis: -1);                 // [L,Bu,k]
            var topValid = g.Gather(valid, topI);                           // [L,Bu,k] bool
            var w = g.Cast(topValid, DType.Float);
            var topLab = g.Where(topValid, g.Gather(ql, topI), g.ScalarI64(0));
            var oneHot = g.OneHot(topLab, numClasses);                      // [L,Bu,k,K]
            var votes = g.ReduceSum(g.Mul(oneHot, g.Unsqueeze(w, -1)), [0, 2]);                       // [Bu,K]
            var simSum = g.ReduceSum(g.Mul(oneHot, g.Unsqueeze(g.Where(topValid, topV, g.Scalar(0f)), -1)), [0, 2]);
            var score = g.Add(g.Mul(votes, (float)(2 * k * L + 1)), simSum);
            var best = g.ArgMax(score, 1);                                  // [Bu]
            return g.Where(g.Greater(count, g.ScalarI64(0)), best, g.ScalarI64(-1));
        });
        g.Output(pseudo, PseudoLabels);
        var batchLabels = g.Concat([pseudo, labels], 0);                    // [N]
        g.Output(batchLabels, BatchLabels);

        // ---- semantic positives
        var (positives, mask) = g.InScope("positives/", () =>
        {
            var match = g.And(g.Equal(g.Unsqueeze(batchLabels, 1), g.Unsqueeze(ql, 0)), g.Unsqueeze(valid, 0)); // [N,C]
            var matchI = g.Cast(match, DType.Int64);
            var rank = g.Sub(g.CumSum(matchI, 1), g.ScalarI64(1));          // 0-based rank among matches
            var nMatch = g.ReduceSum(matchI, [1], keepDims: true);          // [N,1]
            // table[i, r] = slot of the r-th match of row i; non-matches go to distinct spare columns C + slot.
            var dest = g.Where(match, rank, g.Add(slots, g.ScalarI64(C)));  // [N,C]
            var table = g.ScatterElements(g.Zeros(DType.Int64, N, 2 * C), dest, g.Expand(slots, N, C), 1);
            var j = g.Cast(g.Floor(g.Mul(uniforms, g.Cast(nMatch, DType.Float))), DType.Int64); // [N,nSp]
            j = g.Max(g.Min(j, g.Sub(nMatch, g.ScalarI64(1))), g.ScalarI64(0));
            var pick = g.GatherElements(table, j, 1);                       // [N,nSp] slots
            var has = g.Cast(g.Greater(g.Squeeze(nMatch, 1), g.ScalarI64(0)), DType.Float); // [N]
            var pos = g.Mul(g.Gather(qe, pick), g.Reshape(has, N, 1, 1));   // [N,nSp,D]
            return (pos, has);
        });
        g.Output(positives, Positives);
        g.Output(mask, PositiveMask);
        var contract = new ContractBuilder()
            .Passed(TargetUnlabelled).HostFed(Labels, HostRole.Labels).StateRead(QueueEmbeddings).StateRead(QueueLabels).StateRead(QueueCount)
            .HostFed(Uniforms, HostRole.Uniforms)
            .HostResult(PseudoLabels, HostRole.PseudoLabels).Passed(BatchLabels).Passed(Positives).Passed(PositiveMask);
        if (passPositiveCount)
        {
            g.Output(g.ReduceSum(mask), PositiveCount);
            contract.Passed(PositiveCount);
        }
        return new BuiltGraph(g, contract.Finish(g));
    }
}

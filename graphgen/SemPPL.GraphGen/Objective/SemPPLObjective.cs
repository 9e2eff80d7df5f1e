using SemPPL.Config;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Objective;

/// <summary>
/// Graph inputs of the SemPPL objective (docs/method.md, "The objective").
/// V = L + S online views (the L large views first), B images, D embedding size.
/// </summary>
/// <param name="Online">[V, B, D] float: l2-normalised online predictions p (differentiated).</param>
/// <param name="Target">[L, B, D] float: l2-normalised target embeddings z (constant; the objective stops its gradient too).
/// With a <see cref="ObjectiveInputs.Job"/>: the job's [L, WorldSize B, D].</param>
/// <param name="NegativeIndices">[L, B, nNeg] int64: for target view l and image i, indices of OTHER images of the batch whose
/// view-l target embedding is a negative (host-drawn; "all" = every other image, nNeg = B - 1). With a job: rows of the job's target.</param>
/// <param name="Positives">[B, nSp, D] float: drawn semantic-positive queue embeddings (constant). Rows of images without
/// positives are ignored (replaced by zeros in-graph, so any content, even NaN, is harmless).</param>
/// <param name="PositiveMask">[B] float: 1 where image i has semantic positives, 0 otherwise.</param>
public sealed record ObjectiveInputs(Value Online, Value Target, Value NegativeIndices, Value Positives, Value PositiveMask)
{
    /// <summary>Data-parallel sets: the rank's place in the job (null: one process, Target is this batch's).</summary>
    public ObjectiveJob? Job { get; init; }
}

/// <summary>
/// One rank of a data-parallel job (docs/method.md, "Data-parallel training"). The objective's Target is then the job's
/// [L, B_global = WorldSize B, D] and the negative indices index it; the loss is this rank's share, so that the mean over
/// the ranks (what the gradient all-reduce takes) is the one-process loss of the job's batch.
/// </summary>
/// <param name="GlobalIndex">[B] int64: the job's batch index of each of this rank's images (its own target row).</param>
/// <param name="PositiveCountSum">[] float: the job's images with semantic positives (positive_mask summed over the ranks).</param>
/// <param name="WorldSize">Ranks of the job.</param>
public sealed record ObjectiveJob(Value GlobalIndex, Value PositiveCountSum, int WorldSize);

/// <summary>Objective constants: view counts and tau, c, alpha, lambda (docs/method.md, "The objective").</summary>
public sealed record ObjectiveSettings(int LargeViews, int SmallViews, float Temperature, float C, float Alpha, float Lambda)
{
    public static ObjectiveSettings From(ObjectiveConfig cfg, int largeViews, int smallViews) =>
        new(largeViews, smallViews, (float)cfg.Temperature, (float)cfg.C, (float)cfg.Alpha, (float)cfg.Lambda);
}

/// <summary>Scalar outputs of the objective. Invariance = InvarianceAugmentation + InvarianceSemanticPositive.</summary>
public sealed record ObjectiveOutputs
{
    /// <summary>c * (L_augm + alpha * L_sempos) + lambda * (I_augm + I_sempos); the classifier CE is added by the caller.</summary>
    public required Value Total { get; init; }
    /// <summary>L_augm.</summary>
    public required Value Augmentation { get; init; }
    /// <summary>L_sempos (0 when no image of the batch has a semantic positive).</summary>
    public required Value SemanticPositive { get; init; }
    /// <summary>I_augm + I_sempos.</summary>
    public required Value Invariance { get; init; }
    /// <summary>I_augm.</summary>
    public required Value InvarianceAugmentation { get; init; }
    /// <summary>I_sempos.</summary>
    public required Value InvarianceSemanticPositive { get; init; }
}

/// <summary>
/// The SemPPL loss as one batched subgraph whose node count does not depend on B:
/// <list type="bullet">
/// <item>all-pairs logits [V*B, L*B] = p . z / tau by one 2-D MatMul, reshaped to [V, B, L, B] (m, i, l, j);</item>
/// <item>candidate logits [V, B, L, 1 + nNeg] (positive z_i^l first, then the host-ordered negatives N_i^l)
///   by one GatherElements with index rows [i, N_i^l];</item>
/// <item>semantic-positive candidates [V, B, L, nSp, 1 + nNeg]: p_i^m . Q_{i,s} / tau (batched MatMul) followed by the same negatives;</item>
/// <item>l(p, z+, N) = -LogSoftmax(candidates)[0];</item>
/// <item>invariance: for large views a != b, KL(stop_gradient(P_i^{a,b}) || P_i^{b,a}) with P the softmax over
///   the candidate logits; P^{b,a} is the candidate tensor with the online-view and target-view axes swapped.</item>
/// </list>
/// Means: L_augm over (i, m, l); L_sempos over (images with a positive, m, l, s); I_augm over (i, ordered pairs a != b);
/// I_sempos over (images with a positive, pairs, s). Empty means (no image with a positive; L &lt; 2; nSp = 0) are 0.
/// </summary>
public static class SemPPLObjective
{
    public static ObjectiveOutputs Build(GraphBuilder g, ObjectiveInputs inputs, ObjectiveSettings s)
    {
        var (online, target, negIdx, positives, mask) = inputs;
        int L = s.LargeViews, V = s.LargeViews + s.SmallViews;
        if (L < 1 || s.SmallViews < 0) throw new ArgumentException($"objective needs L >= 1 and S >= 0 (got L = {L}, S = {s.SmallViews})");
        if (!(s.Temperature > 0)) throw new ArgumentException($"temperature must be > 0 (got {s.Temperature})");
        if (online.Rank != 3 || online.Shape[0] != V || !online.IsStatic)
            throw ShapeException.For("SemPPLObjective", $"online must be static [V = {V}, B, D]", online);
        long B = online.Shape[1], D = online.Shape[2];
        var job = inputs.Job;
        long Bt = B * (job?.WorldSize ?? 1); // the batch the target embeddings (and the negatives' indices) cover
        if (!target.Shape.SequenceEqual(new[] { L, Bt, D }) || target.Type != online.Type)
            throw ShapeException.For("SemPPLObjective", $"target must be [L = {L}, B = {Bt}, D = {D}] of the online type", online, target);
        if (negIdx.Rank != 3 || negIdx.Type != DType.Int64 || negIdx.Shape[0] != L || negIdx.Shape[1] != B)
            throw ShapeException.For("SemPPLObjective", $"negative indices must be int64 [L = {L}, B = {B}, nNeg]", negIdx);
        long nNeg = negIdx.Shape[2];
        if (nNeg < 1 || nNeg > Bt - 1) throw ShapeException.For("SemPPLObjective", $"nNeg must be in [1, B - 1 = {Bt - 1}]", negIdx);
        if (job is not null && (job.WorldSize < 1 || !job.GlobalIndex.Shape.SequenceEqual(new[] { B }) || job.GlobalIndex.Type != DType.Int64
                                || job.PositiveCountSum.Rank != 0 || job.PositiveCountSum.Type != online.Type))
            throw ShapeException.For("SemPPLObjective", $"the job's global index must be int64 [B = {B}] and its positive count a scalar of the online type",
                job.GlobalIndex, job.PositiveCountSum);
        if (positives.Rank != 3 || positives.Shape[0] != B || positives.Shape[2] != D || positives.Type != online.Type)
            throw ShapeException.For("SemPPLObjective", $"positives must be [B = {B}, nSp, D = {D}]", positives);
        long nSp = positives.Shape[1];
        if (!mask.Shape.SequenceEqual(new[] { B }) || mask.Type != online.Type)
            throw ShapeException.For("SemPPLObjective", $"positive mask must be [B = {B}] of the online type", mask);

        return g.InScope("objective.", () => BuildCore(g, online, target, negIdx, positives, mask, job, s, L, V, B, Bt, D, nNeg, nSp));
    }

    private static ObjectiveOutputs BuildCore(GraphBuilder g, Value online, Value target, Value negIdx, Value positives, Value mask,
        ObjectiveJob? job, ObjectiveSettings s, int L, int V, long B, long Bt, long D, long nNeg, long nSp)
    {
        var type = online.Type;
        float invTau = 1f / s.Temperature;
        long C = 1 + nNeg;
        var zero = g.Scalar(0.0, type);

        // ---- augmentation candidates: logits[m, i, l, c], c = 0 the positive z_i^l, c >= 1 the negatives N_i^l
        var z = g.StopGradient(target);
        var all = g.MatMul(g.Reshape(online, V * B, D), g.Transpose(g.Reshape(z, L * Bt, D), 1, 0)); // [V*B, L*Bt]
        var all4 = g.Reshape(g.Mul(all, invTau), V, B, L, Bt);                                       // [m, i, l, j]
        var cand = g.Concat([SelfIndex(g, job, L, B), negIdx], 2);                                   // [L, B, C]
        var candIdx = g.Expand(g.Unsqueeze(g.Transpose(cand, 1, 0, 2), 0), V, B, L, C);               // [V, B, L, C]
        var logits = g.GatherElements(all4, candIdx, 3);                                               // [V, B, L, C]
        var logProb = g.LogSoftmax(logits, -1);

        // L_augm = mean_{m,i,l} -log P[positive]
        var augm = g.Mul(g.ReduceMean(g.Slice(logProb, [0], [1], [3])), -1f);

        // I_augm: KL(sg(P^{a,b}) || P^{b,a}) over ordered pairs of distinct large views.
        Value invAugm = zero;
        if (L >= 2)
        {
            var pairMask = PairMask(g, type, L, [L, 1, L, 1]);
            var kl = KlSum(g, g.Slice(logProb, [0], [L], [0]), pairMask);
            invAugm = g.Mul(kl, 1f / (B * L * (L - 1)));
        }

        // ---- semantic positives
        Value sempos = zero, invSempos = zero;
        if (nSp > 0)
        {
            var has = g.Greater(mask, zero);
            var q = g.Where(g.Reshape(has, B, 1, 1), g.StopGradient(positives), zero);                    // [B, nSp, D]
            var sp = g.MatMul(g.Transpose(online, 1, 0, 2), g.Transpose(q, 0, 2, 1));                      // [B, V, nSp]
            var spLogits = g.Reshape(g.Transpose(g.Mul(sp, invTau), 1, 0, 2), V, B, 1, nSp, 1);            // [m, i, 1, s, 1]
            var negLogits = g.Unsqueeze(g.Slice(logits, [1], [C], [3]), 3);                               // [m, i, l, 1, nNeg]
            var spCand = g.Concat([g.Expand(spLogits, V, B, L, nSp, 1), g.Expand(negLogits, V, B, L, nSp, nNeg)], 4);
            var spLogProb = g.LogSoftmax(spCand, -1);                                                      // [m, i, l, s, C]

            var imageMask = g.Reshape(mask, 1, B, 1, 1, 1);
            // Images with positives (>= 1). A rank divides by the job's count times 1 / WorldSize, so the ranks' mean is the job's mean.
            var invCount = job is null
                ? g.Reciprocal(g.Max(g.ReduceSum(mask), g.Scalar(1.0, type)))
                : g.Div(g.Scalar(job.WorldSize, type), g.Max(job.PositiveCountSum, g.Scalar(1.0, type)));
            var spSum = g.ReduceSum(g.Mul(g.Slice(spLogProb, [0], [1], [4]), imageMask));
            sempos = g.Mul(g.Mul(spSum, invCount), -1f / (V * L * nSp));

            if (L >= 2)
            {
                var weights = g.Mul(PairMask(g, type, L, [L, 1, L, 1, 1]), imageMask);                    // [a, i, b, 1, 1]
                var kl = KlSum(g, g.Slice(spLogProb, [0], [L], [0]), weights);
                invSempos = g.Mul(g.Mul(kl, invCount), 1f / (L * (L - 1) * nSp));
            }
        }

        var invariance = g.Add(invAugm, invSempos);
        var contrastive = s.Alpha == 0f ? augm : g.Add(augm, g.Mul(sempos, s.Alpha));
        var total = g.Add(g.Mul(contrastive, s.C), g.Mul(invariance, s.Lambda));
        return new ObjectiveOutputs
        {
            Total = total,
            Augmentation = augm,
            SemanticPositive = sempos,
            Invariance = invariance,
            InvarianceAugmentation = invAugm,
            InvarianceSemanticPositive = invSempos,
        };
    }

    /// <summary>[L, B, 1]: the target column of each image's own (positive) embedding: i in one process, its job index in a rank.</summary>
    private static Value SelfIndex(GraphBuilder g, ObjectiveJob? job, int L, long B)
    {
        if (job is not null) return g.Expand(g.Reshape(job.GlobalIndex, 1, B, 1), L, B, 1);
        var self = new long[L * B];
        for (int l = 0; l < L; l++) for (long i = 0; i < B; i++) self[l * B + i] = i;
        return g.Constant(HostTensor.Int64([L, B, 1], self), "self_index");
    }

    /// <summary>Constant [a, 1, b, 1...] = 1 where a != b.</summary>
    private static Value PairMask(GraphBuilder g, DType type, int L, long[] shape)
    {
        var m = new double[L * L];
        for (int a = 0; a < L; a++) for (int b = 0; b < L; b++) m[a * L + b] = a == b ? 0 : 1;
        var t = type == DType.Double ? HostTensor.Double(shape, m) : HostTensor.Float(shape, m.Select(v => (float)v).ToArray());
        return g.Constant(t, "pair_mask");
    }

    /// <summary>
    /// sum over (a, i, b, ..., c) of weights * sg(P[a,i,b]) * (sg(logP[a,i,b]) - logP[b,i,a]), where
    /// <paramref name="logP"/> is [a, i, b, ..., c] (online large view a, image i, target view b, ..., candidate c).
    /// The swap of axes 0 and 2 turns P^{a,b} into P^{b,a}.
    /// </summary>
    private static Value KlSum(GraphBuilder g, Value logP, Value weights)
    {
        var perm = Enumerable.Range(0, logP.Rank).Select(i => (long)(i == 0 ? 2 : i == 2 ? 0 : i)).ToArray();
        var fixedLog = g.StopGradient(logP);
        var swapped = g.Transpose(logP, perm);
        var terms = g.Mul(g.Exp(fixedLog), g.Sub(fixedLog, swapped));
        return g.ReduceSum(g.Mul(terms, weights));
    }
}

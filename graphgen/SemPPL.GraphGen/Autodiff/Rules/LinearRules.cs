using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

/// <summary>
/// MatMul with numpy semantics. With a' = a (a vector [K] promoted to [1,K]) and b' = b (a vector
/// [K] promoted to [K,1]) and dy' the output gradient with the promoted axes restored:
/// da' = dy' b'^T and db' = a'^T dy', each summed over broadcast batch axes and reshaped back.
/// When b' is 2-D (plain and batched linear layers, [B, M, K] x [K, N]) the batch rows are folded
/// and both gradients are single Gemms with transpose flags; otherwise batched MatMuls with a
/// transposed operand, summed over broadcast batch axes.
/// </summary>
public sealed class MatMulRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["MatMul"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var a = ctx.X(0); var b = ctx.X(1); var dy = ctx.OutputGrad()!;
        bool needA = ctx.NeedsGrad(0), needB = ctx.NeedsGrad(1);

        if (a.Rank == 1 && b.Rank == 1) // dot product: y is a scalar
        {
            if (needA) ctx.AddGrad(0, g.Mul(dy, b));
            if (needB) ctx.AddGrad(1, g.Mul(dy, a));
            return;
        }

        var a2 = a.Rank == 1 ? g.Reshape(a, 1, a.Shape[0]) : a;
        var b2 = b.Rank == 1 ? g.Reshape(b, b.Shape[0], 1) : b;
        var dy2 = dy;
        if (a.Rank == 1) dy2 = g.Unsqueeze(dy2, dy2.Rank - 1); // [..., N] -> [..., 1, N]
        if (b.Rank == 1) dy2 = g.Unsqueeze(dy2, dy2.Rank);     // [..., M] -> [..., M, 1]

        if (b2.Rank == 2)
        {
            // b' has no batch axes, so a' and dy' share theirs: fold all batch rows into one
            // product, da' = [rows, N] x [N, K] and db' = [K, rows] x [rows, N] (one Gemm each,
            // no Transpose, no batched product followed by a reduction).
            var dyFlat = dy2.Rank == 2 ? dy2 : g.Reshape(dy2, -1, dy2.Shape[^1]);
            if (needA)
            {
                var da = g.Gemm(dyFlat, b2, transB: true);
                if (a2.Rank != 2) da = g.Reshape(da, a2.IsStatic ? a2.Shape : [-1, .. a2.Shape[1..]]);
                ctx.AddGrad(0, a.Rank == 1 ? g.Reshape(da, a.Shape) : da);
            }
            if (needB)
            {
                var aFlat = a2.Rank == 2 ? a2 : g.Reshape(a2, -1, a2.Shape[^1]);
                var db = g.Gemm(aFlat, dyFlat, transA: true);
                ctx.AddGrad(1, b.Rank == 1 ? g.Reshape(db, b.Shape) : db);
            }
            return;
        }

        // General batched case: batched products, then sums over the broadcast batch axes.
        if (needA)
        {
            var da = ctx.ReduceToShape(g.MatMul(dy2, TransposeLast2(g, b2)), a2.Shape);
            ctx.AddGrad(0, a.Rank == 1 ? g.Reshape(da, a.Shape) : da);
        }
        if (needB)
        {
            var db = ctx.ReduceToShape(g.MatMul(TransposeLast2(g, a2), dy2), b2.Shape);
            ctx.AddGrad(1, b.Rank == 1 ? g.Reshape(db, b.Shape) : db);
        }
    }

    private static Value TransposeLast2(GraphBuilder g, Value x)
    {
        var perm = Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray();
        (perm[^1], perm[^2]) = (perm[^2], perm[^1]);
        return g.Transpose(x, perm);
    }
}

/// <summary>
/// Y = alpha A' B' + beta C with A' = op(A), B' = op(B):
/// dA' = alpha dY B'^T, dB' = alpha A'^T dY, dC = beta * dY summed to C's shape. Each of the four
/// transA/transB combinations is one Gemm whose own transpose flags absorb every transpose.
/// </summary>
public sealed class GemmRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Gemm"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var n = ctx.Node; var a = ctx.X(0); var b = ctx.X(1); var dy = ctx.OutputGrad()!;
        bool tA = n.AttrInt("transA", 0) != 0, tB = n.AttrInt("transB", 0) != 0;
        float alpha = n.AttrFloat("alpha", 1f), beta = n.AttrFloat("beta", 1f);

        if (ctx.NeedsGrad(0))
        {
            // tA=0: dA = alpha dY op(B)^T ; tA=1: dA = alpha op(B) dY^T
            var da = tA
                ? g.Gemm(b, dy, transA: tB, transB: true, alpha: alpha)
                : g.Gemm(dy, b, transB: !tB, alpha: alpha);
            ctx.AddGrad(0, da);
        }
        if (ctx.NeedsGrad(1))
        {
            // tB=0: dB = alpha op(A)^T dY ; tB=1: dB = alpha dY^T op(A)
            var db = tB
                ? g.Gemm(dy, a, transA: true, transB: tA, alpha: alpha)
                : g.Gemm(a, dy, transA: !tA, alpha: alpha);
            ctx.AddGrad(1, db);
        }
        if (ctx.NeedsGrad(2))
        {
            var c = ctx.X(2);
            var dc = ctx.ReduceToShape(dy, c.Shape);
            ctx.AddGrad(2, beta == 1f ? dc : g.Mul(dc, beta));
        }
    }
}

using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff.Rules;

// Gradients of the shape ops: pure data movement forward, so the backward is the inverse movement
// (reshape back, inverse permutation, split/concat swapped, pad/slice swapped) or, where the forward
// copies an element several times (Tile), a sum over the copies. Expand's row is in ElementwiseRules.

/// <summary>Reshape, Flatten, Squeeze, Unsqueeze keep the element order: dx = reshape(dy, shape(x)).</summary>
public sealed class ReshapeLikeRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Reshape", "Flatten", "Squeeze", "Unsqueeze"];

    public void Backward(GradientContext ctx)
    {
        var x = ctx.X(0);
        ctx.AddGrad(0, ShapeGrad.ReshapeExact(ctx.G, ctx.OutputGrad()!, x.Shape));
    }
}

/// <summary>dx = transpose(dy, inverse(perm)); ONNX's default perm reverses the axes.</summary>
public sealed class TransposeRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Transpose"];

    public void Backward(GradientContext ctx)
    {
        var x = ctx.X(0);
        var perm = ctx.Node.AttrInts("perm") is { Length: > 0 } p ? p : Enumerable.Range(0, x.Rank).Reverse().Select(i => (long)i).ToArray();
        var inverse = new long[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        var dy = ctx.OutputGrad()!;
        bool identity = inverse.Select((p, i) => p == i).All(b => b);
        ctx.AddGrad(0, identity ? dy : ctx.G.Transpose(dy, inverse));
    }
}

/// <summary>Concat: each input gets its own slab of dy along the axis (one Slice when a single input needs it, else one Split).</summary>
public sealed class ConcatRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Concat"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var dy = ctx.OutputGrad()!;
        int n = ctx.Node.Inputs.Length;
        int axis = Shapes.NormAxis(ctx.Node.AttrInt("axis", 0), dy.Rank, "Concat");
        var sizes = Enumerable.Range(0, n).Select(i => ctx.X(i).Shape[axis]).ToArray();
        var needed = Enumerable.Range(0, n).Where(ctx.NeedsGrad).ToArray();
        if (needed.Length == 1)
        {
            int i = needed[0];
            long start = sizes.Take(i).Sum();
            ctx.AddGrad(i, g.Slice(dy, [start], [start + sizes[i]], [axis]));
            return;
        }
        var parts = g.Split(dy, axis, sizes);
        foreach (int i in needed) ctx.AddGrad(i, parts[i]);
    }
}

/// <summary>Split: dx = concat of the output gradients, zeros for outputs that do not reach the loss.</summary>
public sealed class SplitRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Split"];

    public void Backward(GradientContext ctx)
    {
        var x = ctx.X(0);
        int axis = Shapes.NormAxis(ctx.Node.AttrInt("axis", 0), x.Rank, "Split");
        var parts = Enumerable.Range(0, ctx.Node.Outputs.Length).Select(ctx.OutputGradOrZeros).ToArray();
        ctx.AddGrad(0, parts.Length == 1 ? parts[0] : ctx.G.Concat(parts, axis));
    }
}

/// <summary>
/// Slice (constant starts/ends/axes/steps): dy is scattered back into a zero tensor of x's shape.
/// Step 1 is a Pad; step s > 1 first interleaves s-1 zeros after each element (Unsqueeze, Pad, Reshape);
/// a negative step first reverses dy along the axis.
/// </summary>
public sealed class SliceRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Slice"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0); var y = ctx.Y(); var d = ctx.OutputGrad()!;
        if (y.ElementCount == 0) { ctx.AddGrad(0, g.Zeros(x.Type, x.Shape)); return; }
        var starts = g.ConstantInts(ctx.Node, 1)!;
        var ends = g.ConstantInts(ctx.Node, 2)!;
        var axes = g.ConstantInts(ctx.Node, 3) ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = g.ConstantInts(ctx.Node, 4) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        var pads = new long[2 * x.Rank];
        for (int k = 0; k < axes.Length; k++)
        {
            int a = Shapes.NormAxis(axes[k], x.Rank, "Slice");
            long dim = x.Shape[a], count = y.Shape[a];
            var (st, _, step) = GraphBuilder.SliceBounds(starts[k], ends[k], steps[k], dim);
            long first = st;
            if (step < 0)
            {
                d = g.Slice(d, [-1], [long.MinValue], [a], [-1]); // reverse: element j came from st + j*step
                step = -step;
                first = st - (count - 1) * step;
            }
            long length = count;
            if (step > 1)
            {
                var u = g.Unsqueeze(d, a + 1);                  // [.., count, 1, ..]
                var p = new long[2 * u.Rank];
                p[u.Rank + a + 1] = step - 1;
                u = g.Pad(u, p);                                 // [.., count, step, ..]: element then step-1 zeros
                var merged = d.Shape.Select((s, i) => i == a ? count * step : s).ToArray();
                d = g.Reshape(u, merged);
                length = count * step;
                if (first + length > dim)                        // the tail beyond x is zeros only
                {
                    length = dim - first;
                    d = g.Slice(d, [0], [length], [a]);
                }
            }
            pads[a] = first;
            pads[x.Rank + a] = dim - first - length;
        }
        ctx.AddGrad(0, pads.All(p => p == 0) ? d : g.Pad(d, pads));
    }
}

/// <summary>Tile: dy viewed as [r0, d0, r1, d1, ..] (only the repeated axes split), summed over the repeat axes.</summary>
public sealed class TileRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Tile"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0); var dy = ctx.OutputGrad()!;
        var repeats = g.ConstantInts(ctx.Node, 1)!;
        if (repeats.All(r => r == 1)) { ctx.AddGrad(0, ShapeGrad.ReshapeExact(g, dy, x.Shape)); return; }
        var split = new List<long>(); var sumAxes = new List<long>();
        for (int i = 0; i < x.Rank; i++)
        {
            if (repeats[i] != 1) { sumAxes.Add(split.Count); split.Add(repeats[i]); }
            split.Add(x.Shape[i]);
        }
        var r = g.ReduceSum(g.Reshape(dy, split.ToArray()), sumAxes.ToArray(), keepDims: false);
        ctx.AddGrad(0, ShapeGrad.ReshapeExact(g, r, x.Shape));
    }
}

/// <summary>
/// Constant-mode Pad (any sign of pads, optional axes input): dx is the window of dy that x landed in,
/// zero-padded where negative pads cropped x. The padding value gets sum(dy) - sum(window).
/// </summary>
public sealed class PadRule : IGradientRule
{
    public IReadOnlyList<string> OpTypes => ["Pad"];

    public void Backward(GradientContext ctx)
    {
        var g = ctx.G; var x = ctx.X(0); var y = ctx.Y(); var dy = ctx.OutputGrad()!;
        string mode = ctx.Node.AttrString("mode") ?? "constant";
        if (mode != "constant")
            throw new NotSupportedException($"gradient of {ctx.Node}: Pad mode '{mode}' is not supported (only 'constant')");
        var given = g.ConstantInts(ctx.Node, 1)!;
        var axes = (g.ConstantInts(ctx.Node, 3) ?? Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray())
            .Select(a => Shapes.NormAxis(a, x.Rank, "Pad")).ToArray();
        var begin = new long[x.Rank]; var end = new long[x.Rank];
        for (int k = 0; k < axes.Length; k++) { begin[axes[k]] = given[k]; end[axes[k]] = given[k + axes.Length]; }

        var starts = new List<long>(); var ends = new List<long>(); var sliceAxes = new List<long>();
        var crop = new long[2 * x.Rank];
        for (int i = 0; i < x.Rank; i++)
        {
            long s = Math.Max(begin[i], 0), e = y.Shape[i] - Math.Max(end[i], 0);
            if (s != 0 || e != y.Shape[i]) { starts.Add(s); ends.Add(e); sliceAxes.Add(i); }
            crop[i] = Math.Max(-begin[i], 0);
            crop[x.Rank + i] = Math.Max(-end[i], 0);
        }
        var window = sliceAxes.Count > 0 ? g.Slice(dy, starts.ToArray(), ends.ToArray(), sliceAxes.ToArray()) : dy;
        if (ctx.NeedsGrad(0))
            ctx.AddGrad(0, crop.All(c => c == 0) ? window : g.Pad(window, crop));
        if (ctx.NeedsGrad(2))
        {
            var v = ctx.X(2);
            var dv = g.Sub(g.ReduceSum(dy), g.ReduceSum(window));
            ctx.AddGrad(2, ShapeGrad.ReshapeExact(g, dv, v.Shape));
        }
    }
}

internal static class ShapeGrad
{
    /// <summary>Reshape to a static shape, literal dimensions only (a 0 in the target is a zero-size dimension, not "copy").</summary>
    public static Value ReshapeExact(GraphBuilder g, Value v, long[] shape)
    {
        if (v.Shape.SequenceEqual(shape)) return v;
        if (shape.Any(d => d == 0))
            return g.Zeros(v.Type, shape); // zero elements: nothing to move
        return g.Reshape(v, shape);
    }
}

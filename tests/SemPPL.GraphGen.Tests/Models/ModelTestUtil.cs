using SemPPL.Config;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;

namespace SemPPL.GraphGen.Tests.Models;

/// <summary>Feeds and lookups shared by the model tests.</summary>
internal static class ModelTestUtil
{
    public static ModelConfig ModelConfigFor(string backbone, double width = 1.0, string stem = "imagenet", bool zeroInit = false) =>
        new() { Backbone = backbone, Width = width, Stem = stem, ZeroInitResidual = zeroInit };

    /// <summary>Initial parameters (initializer) and buffers (BufferSpec) of a context, keyed by graph input name.</summary>
    public static Dictionary<string, HostTensor> Feeds(ModelContext ctx, int seed = 0)
    {
        var feeds = new Dictionary<string, HostTensor>();
        var values = ParameterInitializer.Initialize(ctx.Parameters, seed);
        for (int i = 0; i < ctx.Parameters.Count; i++)
            feeds[ctx.GraphName(ctx.Parameters[i].Name)] = HostTensor.Float(ctx.Parameters[i].Shape, values[i]);
        var buffers = ParameterInitializer.InitializeBuffers(ctx.Buffers);
        for (int i = 0; i < ctx.Buffers.Count; i++)
            feeds[ctx.GraphName(ctx.Buffers[i].Name)] = HostTensor.Float(ctx.Buffers[i].Shape, buffers[i]);
        return feeds;
    }

    /// <summary>Overwrites BN parameters and running stats with random, non-trivial values (so a BN is not the identity).</summary>
    public static void RandomizeBatchNorm(ModelContext ctx, Dictionary<string, HostTensor> feeds, int seed)
    {
        var rng = new SplitMix64((ulong)seed * 7919 + 17);
        float U(double lo, double hi) => (float)(lo + (hi - lo) * rng.NextDouble());
        foreach (var p in ctx.Parameters)
            if (p.Kind == ParameterKind.BnScale) Fill(feeds, ctx.GraphName(p.Name), () => U(0.5, 1.5));
            else if (p.Kind == ParameterKind.BnBias) Fill(feeds, ctx.GraphName(p.Name), () => U(-0.5, 0.5));
        foreach (var b in ctx.Buffers)
            if (b.Name.EndsWith(".running_mean")) Fill(feeds, ctx.GraphName(b.Name), () => U(-0.3, 0.3));
            else Fill(feeds, ctx.GraphName(b.Name), () => U(0.5, 2.0));
    }

    private static void Fill(Dictionary<string, HostTensor> feeds, string name, Func<float> next)
    {
        var a = feeds[name].Floats;
        for (int i = 0; i < a.Length; i++) a[i] = next();
    }

    public static HostTensor RandomImages(int seed, params long[] shape)
    {
        var rng = new SplitMix64((ulong)seed + 12345);
        var data = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)rng.NextNormal();
        return HostTensor.Float(shape, data);
    }

    public static double[] D(HostTensor t) => t.Floats.Select(v => (double)v).ToArray();

    public static ModelReference.T RefOf(HostTensor t) => new(D(t), t.Shape);

    public static double MaxAbsDiff(IReadOnlyList<float> a, IReadOnlyList<double> b)
    {
        Assert.Equal(b.Count, a.Count);
        double m = 0;
        for (int i = 0; i < a.Count; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}

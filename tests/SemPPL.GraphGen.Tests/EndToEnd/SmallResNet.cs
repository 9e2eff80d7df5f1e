using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Layers;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Tests.EndToEnd;

/// <summary>One residual block: conv3x3(stride) - BN - ReLU - conv3x3 - BN, plus a shortcut, then ReLU.</summary>
public sealed record ResidualBlockSpec(int Channels, int Stride);

/// <summary>
/// A small ResNet-style classifier (NCHW, static shapes):
/// <code>
///   stem:   conv kxk (stride s, pad k/2, no bias) - BN - ReLU - MaxPool 3x3/2 pad 1
///   blocks: h' = ReLU( BN(conv3x3( ReLU(BN(conv3x3/stride(h))) )) + shortcut(h) )
///           shortcut = h, or BN(conv1x1/stride(h)) when the stride or the channel count changes
///   head:   GlobalAveragePool - Reshape [N, C] - Gemm (transB, bias) - LogSoftmax
///   loss:   mean over the batch of -sum_k onehot(label)_k * logsoftmax_k
/// </code>
/// Every BatchNorm is training-mode (<see cref="BatchNorm.Training"/>: batch statistics, decomposed into
/// primitives). Convolutions feeding a BatchNorm have no bias (it would cancel). Shared by the end-to-end
/// tests and the autodiff benchmark (linked into tests/SemPPL.Benchmarks).
/// </summary>
public sealed record SmallResNetSpec(int InChannels, int Height, int Width, int StemChannels, int StemKernel, int StemStride,
    IReadOnlyList<ResidualBlockSpec> Blocks, int Classes)
{
    public const float BnMomentum = 0.9f;
    public const float BnEpsilon = 1e-5f;

    public enum Kind { ConvWeight, BnScale, BnBias, FcWeight, FcBias }

    public sealed record Param(string Name, long[] Shape, Kind Kind, int FanIn);

    /// <summary>The trainable parameters in a fixed order; BatchNorm running statistics are <see cref="RunningStats"/>.</summary>
    public IReadOnlyList<Param> Parameters()
    {
        var ps = new List<Param>();
        void Conv(string n, int cout, int cin, int k) => ps.Add(new(n, [cout, cin, k, k], Kind.ConvWeight, cin * k * k));
        void Bn(string n, int c) { ps.Add(new(n + ".scale", [c], Kind.BnScale, c)); ps.Add(new(n + ".bias", [c], Kind.BnBias, c)); }
        Conv("stem.conv.w", StemChannels, InChannels, StemKernel); Bn("stem.bn", StemChannels);
        int c = StemChannels;
        for (int b = 0; b < Blocks.Count; b++)
        {
            var blk = Blocks[b]; string p = $"block{b + 1}.";
            Conv(p + "conv1.w", blk.Channels, c, 3); Bn(p + "bn1", blk.Channels);
            Conv(p + "conv2.w", blk.Channels, blk.Channels, 3); Bn(p + "bn2", blk.Channels);
            if (HasProjection(b, c)) { Conv(p + "proj.w", blk.Channels, c, 1); Bn(p + "proj_bn", blk.Channels); }
            c = blk.Channels;
        }
        ps.Add(new("fc.w", [Classes, c], Kind.FcWeight, c));
        ps.Add(new("fc.b", [Classes], Kind.FcBias, c));
        return ps;
    }

    /// <summary>BatchNorm names (prefix of ".scale"/".bias") with their channel counts, in forward order.</summary>
    public IReadOnlyList<(string Name, int Channels)> BatchNorms() =>
        Parameters().Where(p => p.Kind == Kind.BnScale).Select(p => (p.Name[..^".scale".Length], (int)p.Shape[0])).ToList();

    public bool HasProjection(int block, int inChannels) => Blocks[block].Stride != 1 || Blocks[block].Channels != inChannels;

    public long ParameterCount => Parameters().Sum(p => p.Shape.Aggregate(1L, (a, d) => a * d));

    /// <summary>Deterministic float32 initial values: He-normal convolutions, BN scale in [0.5, 1.5), BN bias N(0, 0.2), fc N(0, 1/fan_in).</summary>
    public Dictionary<string, float[]> InitialParameters(int seed)
    {
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var values = new Dictionary<string, float[]>();
        foreach (var p in Parameters())
        {
            int n = (int)p.Shape.Aggregate(1L, (a, d) => a * d);
            values[p.Name] = Enumerable.Range(0, n).Select(_ => (float)(p.Kind switch
            {
                Kind.ConvWeight => Normal() * Math.Sqrt(2.0 / p.FanIn),
                Kind.BnScale => 0.5 + rng.NextDouble(),
                Kind.BnBias => 0.2 * Normal(),
                Kind.FcWeight => Normal() / Math.Sqrt(p.FanIn),
                _ => 0.1 * Normal(),
            })).ToArray();
        }
        return values;
    }

    public string Describe()
    {
        var s = $"input {InChannels}x{Height}x{Width}; stem conv {StemKernel}x{StemKernel}/{StemStride} -> {StemChannels}, BN, ReLU, MaxPool 3x3/2 p1";
        int c = StemChannels;
        for (int b = 0; b < Blocks.Count; b++)
        {
            var blk = Blocks[b];
            s += $"; block{b + 1}: [conv3x3/{blk.Stride} {c}->{blk.Channels}, BN, ReLU, conv3x3 {blk.Channels}->{blk.Channels}, BN] + " +
                 (HasProjection(b, c) ? $"[conv1x1/{blk.Stride} {c}->{blk.Channels}, BN]" : "identity") + ", ReLU";
            c = blk.Channels;
        }
        return s + $"; GlobalAveragePool, Gemm {c}->{Classes}; LogSoftmax cross-entropy (one-hot labels); {ParameterCount} parameters";
    }
}

/// <summary>The graph values of one <see cref="SmallResNetSpec"/> forward pass.</summary>
public sealed class SmallResNetGraph
{
    public required GraphBuilder G { get; init; }
    public required Value X { get; init; }
    public required Value Labels { get; init; }
    public required Value Logits { get; init; }
    public required Value Loss { get; init; }
    /// <summary>Trainable parameters (graph inputs named as in <see cref="SmallResNetSpec.Parameters"/>).</summary>
    public required IReadOnlyList<Value> Parameters { get; init; }
    /// <summary>Running statistics: input "name.mean"/"name.var" and their updated values.</summary>
    public required IReadOnlyList<(Value Input, Value Updated)> RunningStats { get; init; }

    /// <summary>
    /// Builds the forward pass on graph inputs "x" [N, C, H, W] float, "labels" [N] int64, one input per
    /// parameter and per running statistic. Outputs nothing: callers choose.
    /// </summary>
    public static SmallResNetGraph Build(GraphBuilder g, SmallResNetSpec spec, int batch)
    {
        var x = g.Input("x", DType.Float, batch, spec.InChannels, spec.Height, spec.Width);
        var labels = g.Input("labels", DType.Int64, batch);
        var ps = spec.Parameters().ToDictionary(p => p.Name, p => g.Input(p.Name, DType.Float, p.Shape));
        var running = new List<(Value, Value)>();

        Value Bn(Value h, string name)
        {
            var c = h.Shape[1];
            var mean = g.Input(name + ".mean", DType.Float, c);
            var variance = g.Input(name + ".var", DType.Float, c);
            var r = BatchNorm.Training(g, h, ps[name + ".scale"], ps[name + ".bias"], mean, variance, SmallResNetSpec.BnMomentum, SmallResNetSpec.BnEpsilon);
            running.Add((mean, r.NewRunningMean));
            running.Add((variance, r.NewRunningVar));
            return r.Y;
        }
        Value Conv(Value h, string w, int stride)
        {
            long k = ps[w].Shape[2], p = k / 2;
            return g.Conv(h, ps[w], null, [stride, stride], [p, p, p, p]);
        }

        var h = g.InScope("stem.", () => g.MaxPool(g.Relu(Bn(Conv(x, "stem.conv.w", spec.StemStride), "stem.bn")), [3, 3], [2, 2], [1, 1, 1, 1]));
        int cin = spec.StemChannels;
        for (int b = 0; b < spec.Blocks.Count; b++)
        {
            var blk = spec.Blocks[b]; string p = $"block{b + 1}.";
            bool proj = spec.HasProjection(b, cin);
            var input = h;
            h = g.InScope(p, () =>
            {
                var a = g.Relu(Bn(Conv(input, p + "conv1.w", blk.Stride), p + "bn1"));
                var m = Bn(Conv(a, p + "conv2.w", 1), p + "bn2");
                var shortcut = proj ? Bn(Conv(input, p + "proj.w", blk.Stride), p + "proj_bn") : input;
                return g.Relu(g.Add(m, shortcut));
            });
            cin = blk.Channels;
        }
        var (logits, loss) = g.InScope("head.", () =>
        {
            var pooled = g.Reshape(g.GlobalAveragePool(h), batch, cin);
            var z = g.Gemm(pooled, ps["fc.w"], ps["fc.b"], transB: true);
            var logProb = g.LogSoftmax(z, 1);
            var oneHot = g.OneHot(labels, spec.Classes);
            var l = g.Neg(g.ReduceMean(g.ReduceSum(g.Mul(oneHot, logProb), [1])));
            return (z, l);
        });
        return new SmallResNetGraph
        {
            G = g, X = x, Labels = labels, Logits = logits, Loss = loss,
            Parameters = spec.Parameters().Select(p => ps[p.Name]).ToList(),
            RunningStats = running,
        };
    }

    /// <summary>
    /// The whole training step in one graph: loss, gradients by <see cref="Differentiator"/>, and the plain SGD
    /// update w' = w - lr * dL/dw for every parameter (input "lr", a scalar). Outputs "loss", "new.&lt;param&gt;"
    /// and "new.&lt;running stat&gt;".
    /// </summary>
    public static SmallResNetGraph BuildSgdStep(SmallResNetSpec spec, int batch)
    {
        var g = new GraphBuilder("small_resnet_sgd_step");
        var net = Build(g, spec, batch);
        var lr = g.Input("lr", DType.Float);
        g.Output(net.Loss, "loss");
        var grads = Differentiator.Differentiate(g, net.Loss, net.Parameters.ToList(), outputPrefix: null);
        g.InScope("sgd.", () =>
        {
            foreach (var w in net.Parameters) g.Output(g.Sub(w, g.Mul(grads[w], lr)), "new." + w.Name);
            return 0;
        });
        foreach (var (input, updated) in net.RunningStats) g.Output(updated, "new." + input.Name);
        return net;
    }
}

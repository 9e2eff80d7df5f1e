using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Support.GradCheck;

namespace SemPPL.GraphGen.Tests.Autodiff;

public sealed class ConvRuleTests(ITestOutputHelper output)
{
    /// <summary>A Conv geometry: x shape, w shape, strides, pads [t,l,b,r], dilations, group, bias.</summary>
    public sealed record Case(long[] X, long[] W, long[] S, long[] P, long[] D, long G, bool Bias);

    // Odd shapes throughout; the comments give the output size and the ConvTranspose output_padding per axis.
    public static readonly Dictionary<string, Case> Cases = new()
    {
        // 7x5, 3x3 s1 p1 -> 7x5, op 0.
        ["s1-p1-bias"] = new([3, 4, 7, 5], [6, 4, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, true),
        // 7x5, 3x3 s2 p1 -> 4x3; (7+2-3) % 2 = 0, (5+2-3) % 2 = 0: op 0.
        ["s2-p1-odd"] = new([3, 4, 7, 5], [6, 4, 3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1, false),
        // 8x6, 3x3 s2 p1 -> 4x3; (8+2-3) % 2 = 1, (6+2-3) % 2 = 1: op 1 (the last input row/column is in no window's centre row).
        ["s2-p1-even"] = new([3, 4, 8, 6], [5, 4, 3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1, true),
        // 7x5, 3x3 s2 pads t0 l1 b2 r0 -> 4x2; (7+2-3) % 2 = 0, (5+1-3) % 2 = 1.
        ["s2-asym-pads"] = new([3, 4, 7, 5], [6, 4, 3, 3], [2, 2], [0, 1, 2, 0], [1, 1], 1, true),
        // 9x7, 3x2 kernel, strides 3x2, pads t1 l0 b0 r1 -> 3x4; (9+1-3) % 3 = 1, (7+1-2) % 2 = 0.
        ["s3x2-rect-kernel"] = new([3, 2, 9, 7], [4, 2, 3, 2], [3, 2], [1, 0, 0, 1], [1, 1], 1, true),
        // 1x3 kernel padded left and right only, 6x5 -> 6x5: taps beside the image with no zero image row above or below
        // (the weight gradient's unfold adds one below for them).
        ["1x3-w-pads-only"] = new([3, 4, 6, 5], [5, 4, 1, 3], [1, 1], [0, 1, 0, 1], [1, 1], 1, false),
        // ResNet shortcut 1x1 s2, 8x6 -> 4x3; the last row/column is in no window (overhang -1: cropped / op 1).
        ["1x1-s2"] = new([3, 4, 8, 6], [6, 4, 1, 1], [2, 2], [0, 0, 0, 0], [1, 1], 1, false),
        // ResNet stem 7x7 s2 p3 on 11x9 -> 6x5.
        ["7x7-s2-p3-stem"] = new([3, 3, 11, 9], [4, 3, 7, 7], [2, 2], [3, 3, 3, 3], [1, 1], 1, false),
        // Groups 2: C 6, M 4, stride 2, 7x5.
        ["group2-s2"] = new([3, 6, 7, 5], [4, 3, 3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 2, true),
        // Groups 3 with 2 outputs per group, asymmetric pads.
        ["group3-asym"] = new([3, 6, 7, 5], [6, 2, 3, 3], [1, 2], [1, 0, 0, 1], [1, 1], 3, false),
        // Depthwise: C = M = G = 4, stride 2.
        ["depthwise-s2"] = new([3, 4, 7, 5], [4, 1, 3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 4, true),
        // Depthwise with multiplier 2.
        ["depthwise-x2"] = new([3, 4, 7, 5], [8, 1, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 4, false),
        // Dilation 2 (beyond the brief; cheap to support): 9x7, 3x3 d2 p2 s1 -> 9x7, and with s2 -> 5x4.
        ["dilation2"] = new([3, 2, 9, 7], [3, 2, 3, 3], [1, 1], [2, 2, 2, 2], [2, 2], 1, true),
        ["dilation2-s2"] = new([3, 2, 9, 7], [3, 2, 3, 3], [2, 2], [2, 1, 1, 2], [2, 2], 1, false),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    private static double[] Forward(Case c, double[][] xs) =>
        Reference.Conv2d(c.X, xs[0], c.W, xs[1], c.Bias ? xs[2] : null, c.S, c.P, c.D, c.G, out _);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Conv_gradients_match_finite_differences(string name)
    {
        var c = Cases[name];
        var inputs = new List<Input> { new("x", c.X, RandomData(11, c.X)), new("w", c.W, RandomData(12, c.W, 0.5)) };
        if (c.Bias) inputs.Add(new("b", [c.W[0]], RandomData(13, [c.W[0]])));
        Check($"Conv[{name}]", inputs,
            (g, v) => g.Conv(v[0], v[1], c.Bias ? v[2] : null, c.S, c.P, c.D, c.G),
            xs => Forward(c, xs), output);
    }

    [Fact]
    public void Conv_weight_gradient_only_when_the_input_is_constant()
    {
        var c = Cases["s2-asym-pads"];
        Check("Conv[w-only]", [new("x", c.X, RandomData(21, c.X), Differentiate: false), new("w", c.W, RandomData(22, c.W)), new("b", [c.W[0]], RandomData(23, [c.W[0]]))],
            (g, v) => g.Conv(v[0], v[1], v[2], c.S, c.P, c.D, c.G), xs => Forward(c, xs), output);
    }

    [Fact]
    public void Conv_chain_of_two_layers_with_relu()
    {
        // conv(s2) -> relu -> conv(group 2): gradients flow through a Conv input gradient into another Conv.
        long[] xs = [3, 4, 9, 7], w1s = [6, 4, 3, 3], w2s = [4, 3, 3, 3];
        Check("Conv[chain]", [new("x", xs, RandomData(31, xs)), new("w1", w1s, RandomData(32, w1s, 0.5)), new("w2", w2s, RandomData(33, w2s, 0.5))],
            (g, v) => g.Conv(g.Relu(g.Conv(v[0], v[1], null, [2, 2], [1, 1, 1, 1])), v[2], null, null, [1, 1, 1, 1], null, 2),
            xs2 =>
            {
                var h = Reference.Conv2d(xs, xs2[0], w1s, xs2[1], null, [2, 2], [1, 1, 1, 1], [1, 1], 1, out var hs);
                for (int i = 0; i < h.Length; i++) h[i] = Math.Max(0, h[i]);
                return Reference.Conv2d(hs, h, w2s, xs2[2], null, [1, 1], [1, 1, 1, 1], [1, 1], 2, out _);
            }, output, seed: 3);
    }

    /// <summary>Every weight-gradient formulation against the definition, for every case.</summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Both_weight_gradient_formulations_agree_with_the_definition(string name)
    {
        var c = Cases[name];
        var g = new GraphBuilder("wgrad");
        var x = g.Input("x", DType.Float, c.X);
        var w = g.Input("w", DType.Float, c.W);
        var y = g.Conv(x, w, null, c.S, c.P, c.D, c.G);
        var dy = g.Input("dy", DType.Float, y.Shape);
        var geo = ConvGeometry.Of(y.Producer!);
        g.Output(ConvBackward.WeightGradientIm2Col(g, x, dy, geo), "im2col");
        g.Output(ConvBackward.WeightGradientDilatedConv(g, x, dy, geo), "dilated");
        g.Output(ConvBackward.WeightGradient(g, x, dy, geo, ConvWeightGradMethod.GatherIm2Col), "by_gather");
        g.Output(ConvBackward.WeightGradient(g, x, dy, geo, ConvWeightGradMethod.GatherIm2ColWide), "by_gather_wide");
        var xd = RandomData(41, c.X); var dyd = RandomData(42, y.Shape);
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor>
        {
            ["x"] = HostTensor.Float(c.X, xd.Select(v => (float)v).ToArray()),
            ["w"] = HostTensor.Float(c.W, new float[Shapes.Product(c.W)]),
            ["dy"] = HostTensor.Float(y.Shape, dyd.Select(v => (float)v).ToArray()),
        });
        var expected = Reference.Conv2dWeightGrad(c.X, xd, c.W, y.Shape, dyd, c.S, c.P, c.D, c.G);
        foreach (var method in new[] { "im2col", "dilated", "by_gather", "by_gather_wide" })
        {
            double diff = 0, norm = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                double d = outs[method].GetDouble(i) - expected[i];
                diff += d * d; norm += expected[i] * expected[i];
            }
            double rel = Math.Sqrt(diff / norm);
            output.WriteLine($"{name} {method}: relative error {rel:E2}");
            Assert.True(rel < 1e-5, $"{name} {method}: relative error {rel:E2}");
        }
    }

    /// <summary>The Gather forms pad the channels-last input with whole image rows, as one run per sample [N, H*W*C]:
    /// ORT's Pad copies runs of the innermost axis, single-threaded (as [N, H, W*C] with padded columns, a run per image
    /// row took 0.35 ms on case (b)'s [80, 16, 14, 14]; as [N, H, W, C], a run of C floats, twice as long again).</summary>
    [Fact]
    public void The_gather_forms_pad_whole_samples_of_the_channels_last_input()
    {
        var g = new GraphBuilder("wgrad_pad");
        var x = g.Input("x", DType.Float, 2, 16, 6, 6);
        var y = g.Conv(x, g.Input("w", DType.Float, 8, 16, 3, 3), null, [1, 1], [1, 1, 1, 1]);
        var geo = ConvGeometry.Of(y.Producer!);
        int before = g.Nodes.Count;
        ConvBackward.WeightGradient(g, x, g.Input("dy", DType.Float, y.Shape), geo, ConvWeightGradMethod.GatherIm2Col);
        var pad = Assert.Single(g.Nodes.Skip(before), n => n.OpType == "Pad");
        Assert.Equal([2L, 6 * 6 * 16], pad.Input(0).Shape);
        Assert.Equal([2L, 8 * 6 * 16], pad.Outputs[0].Shape); // a zero image row above and below, no padded column
    }

    /// <summary>ORT's CUDA EP runs a ConvTranspose with asymmetric pads on the CPU: the backward must never build one.</summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Input_gradient_ConvTranspose_has_symmetric_pads(string name)
    {
        var c = Cases[name];
        var g = new GraphBuilder("sym");
        var x = g.Input("x", DType.Float, c.X);
        var w = g.Input("w", DType.Float, c.W);
        SemPPL.GraphGen.Autodiff.Differentiator.Differentiate(g, g.ReduceSum(g.Conv(x, w, null, c.S, c.P, c.D, c.G)), [x]);
        var ct = Assert.Single(g.Nodes, n => n.OpType == "ConvTranspose");
        var pads = ct.AttrInts("pads")!;
        Assert.Equal(pads[0], pads[2]);
        Assert.Equal(pads[1], pads[3]);
        var op = ct.AttrInts("output_padding") ?? [0, 0];
        Assert.True(op[0] < c.S[0] && op[1] < c.S[1], $"output_padding {string.Join(",", op)} must be below the strides");
    }

    [Theory]
    [InlineData(7L, 3L, 2L, 1L, 1L)]
    [InlineData(8L, 3L, 2L, 1L, 1L)]
    [InlineData(8L, 1L, 2L, 0L, 0L)]
    [InlineData(224L, 7L, 2L, 3L, 3L)]
    [InlineData(9L, 3L, 3L, 0L, 2L)]
    public void Output_padding_restores_the_input_size(long h, long k, long s, long pb, long pe)
    {
        long ho = (h + pb + pe - k) / s + 1;
        var geo = new ConvGeometry([s, s], [pb, pb, pe, pe], [1, 1], 1, [1, 1, h, h], [1, 1, k, k], [1, 1, ho, ho]);
        long op = geo.OutputPadding[0];
        Assert.InRange(op, 0, s - 1);
        Assert.Equal(h, s * (ho - 1) + op + k - pb - pe);
        Assert.Equal((h + pb + pe - k) % s, op);
    }
}

/// <summary>
/// Weight-gradient formulations timed with ORT on a ResNet-ish layer (x, dY [32,64,16,16], 3x3, p1, stride 1 and 2).
/// Runs only with SEMPPL_BENCH=1 (dotnet test -c Release --filter ConvBackwardBenchmarks). All sessions are
/// built first and run round-robin, so background load hits every variant alike; min and median are printed.
/// The measured numbers are recorded in ConvBackward's comment. Weight_gradient_gather_per_tap_vs_wide: GatherIm2Col
/// against GatherIm2ColWide on case (a)'s ResNet-18 stages and a quickstart layer (docs/benchmarks.md).
/// </summary>
public sealed class ConvBackwardBenchmarks(ITestOutputHelper output)
{
    [Fact]
    public void Weight_gradient_gather_per_tap_vs_wide()
    {
        if (Environment.GetEnvironmentVariable("SEMPPL_BENCH") != "1") return;
        int threads = int.TryParse(Environment.GetEnvironmentVariable("SEMPPL_BENCH_THREADS"), out var t) ? t : 2;
        var variants = new List<(string Label, Func<GraphBuilder, Dictionary<string, HostTensor>> Build)>();
        // case (a)'s ResNet-18 layers (2 views x 80 images, 32 px), and the quickstart's
        foreach (var (xs, ws, shape) in new[] { (new long[] { 160, 64, 32, 32 }, new long[] { 64, 64, 3, 3 }, "160x64x32"),
                                                (new long[] { 160, 128, 16, 16 }, new long[] { 128, 128, 3, 3 }, "160x128x16"),
                                                (new long[] { 160, 256, 8, 8 }, new long[] { 256, 256, 3, 3 }, "160x256x8"),
                                                (new long[] { 160, 512, 4, 4 }, new long[] { 512, 512, 3, 3 }, "160x512x4"),
                                                (new long[] { 80, 16, 14, 14 }, new long[] { 16, 16, 3, 3 }, "80x16x14") })
        {
            foreach (var method in new[] { ConvWeightGradMethod.GatherIm2Col, ConvWeightGradMethod.GatherIm2ColWide })
                variants.Add(($"dW {method} {shape}", g => Build(g, xs, ws, 1, (g2, x, w, dy, geo) => ConvBackward.WeightGradient(g2, x, dy, geo, method))));
        }
        var runs = variants.Select(v => new Timed(v.Label, v.Build, threads)).ToList();
        try
        {
            foreach (var r in runs) r.RunOnce();
            for (int round = 0; round < 8; round++) foreach (var r in runs) r.Times.Add(r.RunOnce());
            output.WriteLine($"ORT CPU EP, {threads} intra-op threads, {Environment.ProcessorCount} logical CPUs, 8 interleaved rounds");
            foreach (var r in runs)
            {
                r.Times.Sort();
                output.WriteLine($"{r.Label,-36} min {r.Times[0],8:F2} ms  median {r.Times[r.Times.Count / 2],8:F2} ms");
            }
        }
        finally { foreach (var r in runs) r.Dispose(); }
    }

    [Fact]
    public void Weight_gradient_im2col_vs_dilated_conv()
    {
        if (Environment.GetEnvironmentVariable("SEMPPL_BENCH") != "1") return;
        int threads = int.TryParse(Environment.GetEnvironmentVariable("SEMPPL_BENCH_THREADS"), out var t) ? t : 2;
        var variants = new List<(string Label, Func<GraphBuilder, Dictionary<string, HostTensor>> Build)>();
        // A ResNet-ish layer, and two layers of the quickstart network (width 0.25, 28x28 input, stride-2 stem, batch 80).
        foreach (var (xs, ws, shape) in new[] { (new long[] { 32, 64, 16, 16 }, new long[] { 64, 64, 3, 3 }, "32x64x16"),
                                                (new long[] { 80, 16, 14, 14 }, new long[] { 16, 16, 3, 3 }, "80x16x14"),
                                                (new long[] { 80, 64, 4, 4 }, new long[] { 64, 64, 3, 3 }, "80x64x4") })
        foreach (var (stride, s) in new[] { ("s1", 1L), ("s2", 2L) })
        {
            string label = $"{shape} {stride}";
            foreach (var method in new[] { ConvWeightGradMethod.Im2Col, ConvWeightGradMethod.GatherIm2Col, ConvWeightGradMethod.DilatedConv })
                variants.Add(($"dW {method} {label}", g => Build(g, xs, ws, s, (g2, x, w, dy, geo) => ConvBackward.WeightGradient(g2, x, dy, geo, method))));
            variants.Add(($"dX ConvTranspose {label}", g => Build(g, xs, ws, s, (g2, x, w, dy, geo) => ConvBackward.InputGradient(g2, dy, w, geo))));
            variants.Add(($"forward Conv {label}", g => Build(g, xs, ws, s, (g2, x, w, dy, geo) => g2.Conv(x, w, null, [s, s], [1, 1, 1, 1]))));
        }
        // For scale: the ResNet stem pool's backward (re-run with indices + ScatterElements add) on [32,64,32,32].
        variants.Add(("MaxPool 3x3/2 backward", g =>
        {
            long[] ps = [32, 64, 32, 32];
            var x = g.Input("x", DType.Float, ps);
            var y = g.MaxPool(x, [3, 3], [2, 2], [1, 1, 1, 1]);
            var dy = g.Input("dy", DType.Float, y.Shape);
            var r = SemPPL.GraphGen.Autodiff.Differentiator.Differentiate(g, y, [x], outputPrefix: null, seed: dy);
            g.Output(r[x], "out");
            var rng = new Random(2);
            HostTensor R(long[] shape) => HostTensor.Float(shape, Enumerable.Range(0, (int)Shapes.Product(shape)).Select(_ => (float)rng.NextDouble()).ToArray());
            return new() { ["x"] = R(ps), ["dy"] = R(y.Shape) };
        }));
        variants.Add(("MaxPool 3x3/2 with indices", g =>
        {
            long[] ps = [32, 64, 32, 32];
            var x = g.Input("x", DType.Float, ps);
            g.Output(g.MaxPoolWithIndices(x, [3, 3], [2, 2], [1, 1, 1, 1]).Indices, "out");
            var rng = new Random(2);
            return new() { ["x"] = HostTensor.Float(ps, Enumerable.Range(0, (int)Shapes.Product(ps)).Select(_ => (float)rng.NextDouble()).ToArray()) };
        }));
        var runs = variants.Select(v => new Timed(v.Label, v.Build, threads)).ToList();
        try
        {
            foreach (var r in runs) for (int i = 0; i < 3; i++) r.RunOnce();
            for (int round = 0; round < 60; round++) foreach (var r in runs) r.Times.Add(r.RunOnce());
            output.WriteLine($"ORT CPU EP, {threads} intra-op threads, {Environment.ProcessorCount} logical CPUs, 60 interleaved rounds");
            foreach (var r in runs)
            {
                r.Times.Sort();
                output.WriteLine($"{r.Label,-36} min {r.Times[0],8:F2} ms  median {r.Times[r.Times.Count / 2],8:F2} ms");
            }
        }
        finally { foreach (var r in runs) r.Dispose(); }
    }

    private delegate Value Part(GraphBuilder g, Value x, Value w, Value dy, ConvGeometry geo);

    private static Dictionary<string, HostTensor> Build(GraphBuilder g, long[] xs, long[] ws, long s, Part part)
    {
        var x = g.Input("x", DType.Float, xs);
        var w = g.Input("w", DType.Float, ws);
        long ho = (xs[2] + 2 - ws[2]) / s + 1, wo = (xs[3] + 2 - ws[3]) / s + 1;
        long[] ys = [xs[0], ws[0], ho, wo];
        var dy = g.Input("dy", DType.Float, ys);
        var geo = new ConvGeometry([s, s], [1, 1, 1, 1], [1, 1], 1, xs, ws, ys);
        g.Output(part(g, x, w, dy, geo), "out");
        var rng = new Random(1);
        HostTensor R(long[] shape) => HostTensor.Float(shape, Enumerable.Range(0, (int)Shapes.Product(shape)).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray());
        return new() { ["x"] = R(xs), ["w"] = R(ws), ["dy"] = R(ys) };
    }

    private sealed class Timed : IDisposable
    {
        private readonly SessionOptions _options;
        private readonly InferenceSession _session;
        private readonly string[] _names;
        private readonly OrtValue[] _values;
        private readonly RunOptions _run = new();

        public Timed(string label, Func<GraphBuilder, Dictionary<string, HostTensor>> build, int threads)
        {
            Label = label;
            var g = new GraphBuilder("bench");
            var feeds = build(g);
            _options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
            _session = new InferenceSession(g.ToBytes(), _options);
            _names = _session.InputNames.ToArray(); // inputs the timed part does not read are still graph inputs
            _values = _names.Select(n => OrtRunner.ToOrt(feeds[n])).ToArray();
        }

        public string Label { get; }
        public List<double> Times { get; } = [];

        public double RunOnce()
        {
            var sw = Stopwatch.StartNew();
            using (_session.Run(_run, _names, _values, ["out"])) { }
            return sw.Elapsed.TotalMilliseconds;
        }

        public void Dispose()
        {
            foreach (var v in _values) v.Dispose();
            _run.Dispose(); _session.Dispose(); _options.Dispose();
        }
    }
}

using Microsoft.ML.OnnxRuntime;
using Onnx;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Lowering;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

/// <summary>
/// <see cref="WinogradConvLowering"/>: a lowered Conv, its input gradient (ConvTranspose on the same weight) and its
/// weight gradient (graphgen's GatherIm2Col product) agree with an independent double-precision convolution as closely
/// as ORT's direct kernels do; what does not pay or does not fit stays as written.
/// </summary>
public class WinogradLoweringTests
{
    private const long N = 2, C = 256, O = 256;

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, 2)]
    [InlineData(8, 8)] // 16*H*W above the channels: only the weight gradient lowers
    public void A_lowered_conv_and_its_gradients_match_a_double_precision_reference(long h, long w)
    {
        var (model, feeds) = ConvAndGradients(h, w);
        var proto = ModelProto.Parser.ParseFrom(model);
        bool all = WinogradConvLowering.Pays(C, O, h, w);
        Assert.Equal(all ? 3 : 1, WinogradConvLowering.Lower(proto));
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "Gather");
        Assert.Equal(all ? 0 : 2, proto.Graph.Node.Count(n => n.OpType is "Conv" or "ConvTranspose"));
        // one filter transform, and each side's transform points once: MatMuls 2 (forward: points, image) + 3 (input
        // gradient: points, products, image) + 1 (filter) + 1 (the weight gradient's taps); FusedMatMuls: forward, dU.
        // The weight gradient alone: both sides' points and its taps; dU.
        Assert.Equal(all ? 7 : 3, proto.Graph.Node.Count(n => n.OpType == "MatMul"));
        Assert.Equal(all ? 2 : 1, proto.Graph.Node.Count(n => n.OpType == "FusedMatMul"));
        var read = proto.Graph.Node.SelectMany(n => n.Input).ToHashSet();
        Assert.All(proto.Graph.Initializer, i => Assert.Contains(i.Name, read));

        var (y, dx, dw) = Reference(feeds["x"], feeds["w"], feeds["dy"], h, w);
        var direct = Run(model, feeds);
        var lowered = Run(Google.Protobuf.MessageExtensions.ToByteArray(proto), feeds);
        var cpu = Run(NchwcSupport.Lower(model), feeds); // the sessions' whole CPU lowering, NCHWc after Winograd
        foreach (var (name, reference) in new[] { ("y", y), ("dx", dx), ("dw", dw) })
        {
            double scale = reference.Max(Math.Abs);
            double directError = MaxError(direct[name], reference), loweredError = MaxError(lowered[name], reference);
            Assert.True(loweredError <= 2e-6 * scale, $"{name}: max |winograd - reference| = {loweredError:G3} at scale {scale:G3}");
            Assert.True(loweredError <= 4 * directError + 1e-7 * scale, $"{name}: winograd error {loweredError:G3} against ORT's direct {directError:G3}");
            Assert.True(MaxError(cpu[name], reference) <= 2e-6 * scale, $"{name}: the CPU lowering's output is off");
        }
    }

    [Theory]
    [InlineData("8x8 at 256 channels (transforms cost a quarter)")]
    [InlineData("16x16 at 256 channels")]
    [InlineData("odd size")]
    [InlineData("stride 2")]
    [InlineData("dilation 2")]
    [InlineData("bias")]
    [InlineData("input shape unknown")]
    public void What_does_not_pay_or_fit_stays_direct(string geometry)
    {
        var g = new GraphBuilder("winograd");
        long h = geometry.StartsWith("8x8", StringComparison.Ordinal) ? 8 : geometry.StartsWith("16x16", StringComparison.Ordinal) ? 16 : geometry == "odd size" ? 3 : 4;
        var x = g.Input("x", DType.Float, N, C, h, h);
        var wt = g.Input("w", DType.Float, O, C, 3, 3);
        Value y = geometry switch
        {
            "stride 2" => g.Conv(x, wt, null, [2, 2], [1, 1, 1, 1]),
            "dilation 2" => g.Conv(x, wt, null, [1, 1], [2, 2, 2, 2], [2, 2]),
            "bias" => g.Conv(x, wt, g.Input("b", DType.Float, O), [1, 1], [1, 1, 1, 1]),
            _ => g.Conv(x, wt, null, [1, 1], [1, 1, 1, 1]),
        };
        g.Output(y, "out");
        var proto = g.ToModel();
        if (geometry == "input shape unknown")
        {   // an intermediate input without value_info: rename the graph input and compute x from it
            proto.Graph.Input[0].Name = "x0";
            proto.Graph.Node.Insert(0, new NodeProto { Name = "relu", OpType = "Relu", Input = { "x0" }, Output = { "x" } });
        }
        Assert.Equal(0, WinogradConvLowering.Lower(proto));
        Assert.Single(proto.Graph.Node, n => n.OpType == "Conv");
    }

    [Theory]
    [InlineData("inside the image")]
    [InlineData("beside the image")]
    public void A_weight_gradient_whose_unfold_reads_one_wrong_row_stays(string where)
    {   // the rewrite replaces the unfold by Winograd points of x: it must check what every index entry reads
        var (model, _) = ConvAndGradients(8, 8);
        var proto = ModelProto.Parser.ParseFrom(model);
        var tapRow = proto.Graph.Initializer.Single(i => i.Name.Contains("tap_row"));
        var table = HostTensor.FromProto(tapRow); // [9, 1, H*W]: tap r*3 + q, position i*W + j
        var rows = table.Longs;
        if (where == "inside the image") rows[4 * 64 + 9] += 1;       // the centre tap at (1, 1) reads its right neighbour
        else rows[3 * 64 + 8] = rows[4 * 64 + 8];                      // tap (1, 0) at (1, 0), left of the image, reads x[1, 0]
        proto.Graph.Initializer[proto.Graph.Initializer.IndexOf(tapRow)] = HostTensor.Int64(table.Shape, rows).ToProto(tapRow.Name);
        Assert.Equal(0, WinogradConvLowering.Lower(proto)); // 8x8: only the weight gradient would lower
        Assert.Contains(proto.Graph.Node, n => n.OpType == "Gather");
    }

    [Fact]
    public void A_weight_that_one_conv_takes_to_winograd_and_another_to_nchwc_lowers_to_a_valid_model()
    {   // both rewrites reshape the weight: node names must stay unique across the passes (ORT rejects the model otherwise)
        var g = new GraphBuilder("both");
        var wt = g.Input("w", DType.Float, O, C, 3, 3);
        g.Output(g.Conv(g.Input("small", DType.Float, N, C, 4, 4), wt, null, [1, 1], [1, 1, 1, 1]), "y_small");
        g.Output(g.Conv(g.Input("large", DType.Float, N, C, 8, 8), wt, null, [1, 1], [1, 1, 1, 1]), "y_large");
        var proto = ModelProto.Parser.ParseFrom(NchwcSupport.Lower(g.ToBytes()));
        Assert.Single(proto.Graph.Node, n => n.OpType == "FusedMatMul");
        if (NchwcSupport.BlockSize > 1) Assert.Single(proto.Graph.Node, n => n.OpType == "Conv" && n.Domain == NchwcConvLowering.Domain);
        Assert.Equal(proto.Graph.Node.Count, proto.Graph.Node.Select(n => n.Name).Distinct().Count());
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(proto));
        Assert.Equal(2, session.OutputNames.Count);
    }

    [Fact]
    public void Graphgen_states_the_shapes_of_computed_convolution_inputs()
    {
        var g = new GraphBuilder("shapes");
        var x = g.Input("x", DType.Float, N, C, 4, 4);
        var r = g.Relu(x);
        g.Output(g.Conv(r, g.Input("w", DType.Float, O, C, 3, 3), null, [1, 1], [1, 1, 1, 1]), "out");
        var info = Assert.Single(g.ToModel().Graph.ValueInfo);
        Assert.Equal(r.Name, info.Name);
        Assert.Equal([N, C, 4L, 4L], info.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
    }

    private static (byte[] Model, Dictionary<string, HostTensor> Feeds) ConvAndGradients(long h, long w)
    {
        var g = new GraphBuilder("winograd");
        var rng = new Random(7);
        var feeds = new Dictionary<string, HostTensor>();
        Value In(string name, params long[] shape)
        {
            feeds[name] = HostTensor.Float(shape, Enumerable.Range(0, (int)Shapes.Product(shape)).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray());
            return g.Input(name, DType.Float, shape);
        }
        var x = In("x", N, C, h, w);
        var wt = In("w", O, C, 3, 3);
        var dy = In("dy", N, O, h, w);
        g.Output(g.Conv(x, wt, null, [1, 1], [1, 1, 1, 1]), "y");
        g.Output(g.ConvTranspose(dy, wt, null, [1, 1], [1, 1, 1, 1]), "dx");
        var geo = new ConvGeometry([1, 1], [1, 1, 1, 1], [1, 1], 1, [N, C, h, w], [O, C, 3, 3], [N, O, h, w]);
        g.Output(ConvBackward.WeightGradient(g, x, dy, geo, ConvWeightGradMethod.GatherIm2Col), "dw");
        return (g.ToBytes(), feeds);
    }

    /// <summary>y = conv(x, w) (3x3, pad 1), and its input and weight gradients for dy, summed in double.</summary>
    private static (double[] Y, double[] Dx, double[] Dw) Reference(HostTensor x, HostTensor w, HostTensor dy, long h, long wd)
    {
        float[] xs = x.Floats, ws = w.Floats, dys = dy.Floats;
        var y = new double[N * O * h * wd];
        var dx = new double[N * C * h * wd];
        var dw = new double[O * C * 9];
        for (long n = 0; n < N; n++) for (long o = 0; o < O; o++) for (long c = 0; c < C; c++) for (long r = 0; r < 3; r++) for (long q = 0; q < 3; q++)
        {
            double k = ws[((o * C + c) * 3 + r) * 3 + q];
            for (long i = 0; i < h; i++) for (long j = 0; j < wd; j++)
            {
                long yi = i + r - 1, xj = j + q - 1; // output (i, j) reads input (i + r - 1, j + q - 1)
                if (yi < 0 || yi >= h || xj < 0 || xj >= wd) continue;
                y[((n * O + o) * h + i) * wd + j] += k * xs[((n * C + c) * h + yi) * wd + xj];
                dx[((n * C + c) * h + yi) * wd + xj] += k * dys[((n * O + o) * h + i) * wd + j];
                dw[((o * C + c) * 3 + r) * 3 + q] += (double)dys[((n * O + o) * h + i) * wd + j] * xs[((n * C + c) * h + yi) * wd + xj];
            }
        }
        return (y, dx, dw);
    }

    private static double MaxError(float[] a, double[] reference) => a.Zip(reference, (p, q) => Math.Abs(p - q)).Max();

    private static Dictionary<string, float[]> Run(byte[] model, Dictionary<string, HostTensor> feeds)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        return NchwcLoweringTests.RunAll(session, feeds);
    }
}

using Microsoft.ML.OnnxRuntime;
using Onnx;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Lowering;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

/// <summary>
/// <see cref="NchwcConvLowering"/>: each lowered convolution gives the plain graph's output within float tolerance
/// (run by ORT both ways, weights as graph inputs as in the training graphs); what should not lower does not.
/// On an ORT build without NCHWc kernels (<see cref="NchwcSupport.BlockSize"/> 1) the numeric part cannot run;
/// there the tests check that sessions get the model unchanged.
/// </summary>
public class NchwcLoweringTests
{
    private static int B => NchwcSupport.BlockSize;

    public static TheoryData<string> Geometries => ["3x3 s1", "3x3 s2", "1x1 s1", "1x1 s2", "stem 3x3 s2 C1", "stem 3x3 s1 C3",
        "3x3 s2 C<B", "1x1 s2 C<B", "1x1 s1 C<B", "dX 3x3 s1", "dX 1x1 s1", "dX and its forward conv", "dilated 3x3 d2", "asymmetric pads", "bias", "shared input", "channels-last C=B", "channels-last C=2B",
        "dW product C=B", "dW product C=2B", "dW product after its forward conv", "dX 3x3 s2", "dX 3x3 s2 bias", "dX 4x4 s2", "dX 3x3 s3",
        "dX 1x1 s2", "dX 1x1 s2 to an odd size", "dX 3x3 s2 to an odd size", "dX 3x3 s2 to an odd size, 5 x 4", "dX 3x3 s3 cropped by 2"];

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Lowered_convolutions_match_the_plain_graph(string geometry)
    {
        var (model, feeds, expectLowered) = Build(geometry, Math.Max(B, 8));
        if (B <= 1)
        {
            Assert.Same(model, NchwcSupport.Lower(model));
            return;
        }
        var proto = ModelProto.Parser.ParseFrom(model);
        Assert.Equal(expectLowered, NchwcConvLowering.Lower(proto, B));
        var read = proto.Graph.Node.SelectMany(n => n.Input).ToHashSet(); // no constant left that only dropped nodes read
        Assert.All(proto.Graph.Initializer, i => Assert.Contains(i.Name, read));
        if (geometry.StartsWith("dW product", StringComparison.Ordinal)) // the product is a pointwise NchwcConv, no MatMul or dY transpose left
        {
            Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "MatMul");
            Assert.Equal(expectLowered, proto.Graph.Node.Count(n => n.OpType == "ReorderOutput"));
        }
        if (geometry == "dW product after its forward conv") // the rows come from the conv's NCHWc copy: no channels-last unfold left
            Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "Transpose" && n.Attribute.Single(a => a.Name == "perm").Ints.SequenceEqual([0L, 2, 3, 1]));
        if (System.Text.RegularExpressions.Regex.Match(geometry, @"^dX .* s([2-9])") is { Success: true } strided)
        {   // one NchwcConv per output phase that a tap reaches (a 1x1 kernel reaches one), no ConvTranspose left
            long s = strided.Groups[1].Value[0] - '0';
            Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "ConvTranspose");
            Assert.Equal(geometry.Contains("1x1") ? 1 : s * s, proto.Graph.Node.Count(n => n.Domain == NchwcConvLowering.Domain && n.OpType == "Conv"));
        }
        else
            Assert.Equal(expectLowered, proto.Graph.Node.Count(n => n.Domain == NchwcConvLowering.Domain && n.OpType == "Conv"));
        if (geometry == "dX and its forward conv") // one first pass of the weight for both blocked filters: 1 + 1 + 2 transposes
            Assert.Equal(4, proto.Graph.Node.Count(n => n.OpType == "Transpose"));
        if (geometry.StartsWith("channels-last", StringComparison.Ordinal)) // only the conv output's transpose is left of the two
            Assert.Single(proto.Graph.Node, n => n.OpType == "Transpose" && n.Attribute.Single(a => a.Name == "perm").Ints.SequenceEqual([0L, 2, 3, 1]));
        var plain = Run(model, feeds);
        var lowered = Run(Google.Protobuf.MessageExtensions.ToByteArray(proto), feeds);
        Assert.Equal(plain.Length, lowered.Length);
        double scale = plain.Max(v => Math.Abs(v));
        double worst = plain.Zip(lowered, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5 * Math.Max(1, scale), $"{geometry}: max |plain - lowered| = {worst:G3} (scale {scale:G3})");
    }

    [Theory]
    [InlineData("grouped")]
    [InlineData("channels that do not block")]
    [InlineData("dX 1x1 s2 bias")]
    [InlineData("dX 1x1 s2 on a larger image")]
    [InlineData("dW product with a short sum")]
    public void What_the_kernels_cannot_take_stays_as_written(string geometry)
    {
        var (model, _, _) = Build(geometry, Math.Max(B, 8));
        var proto = ModelProto.Parser.ParseFrom(model);
        Assert.Equal(0, NchwcConvLowering.Lower(proto, Math.Max(B, 8)));
        Assert.DoesNotContain(proto.Graph.Node, n => n.Domain == NchwcConvLowering.Domain);
    }

    [Fact]
    public void The_block_size_is_one_or_a_power_of_two_and_the_knob_parses()
    {
        Assert.True(B == 1 || (B >= 4 && (B & (B - 1)) == 0), $"block size {B}");
        // ORT's x64 builds have the NCHWc kernels from AVX2 up (block 8; 16 with AVX-512F): a probe that says 1 there is broken
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Equal(16, B);
        else if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.Equal(8, B);
        Assert.True(SessionFactory.ParseCpuConvLayout(null));
        Assert.True(SessionFactory.ParseCpuConvLayout(" NCHWc "));
        Assert.False(SessionFactory.ParseCpuConvLayout("nchw"));
        var e = Assert.Throws<ArgumentException>(() => SessionFactory.ParseCpuConvLayout("nhwc"));
        Assert.Contains(SessionFactory.CpuConvLayoutVariable, e.Message);
        Assert.Contains("'nhwc'", e.Message);
        Assert.Contains("nchwc or nchw", e.Message);
    }

    [Theory]
    [InlineData("small")]
    [InlineData("small-s2")]
    public void The_tiny_runs_graphs_compute_the_same_lowered(string stem)
    {
        var config = SemPPL.Tests.Reference.TorchReferenceTests.TinyConfig(stem);
        string dir = Path.Combine(Path.GetTempPath(), $"semppl-nchwc-{stem}-{Guid.NewGuid():N}");
        try
        {
            var manifest = SemPPL.GraphGen.Artifacts.ArtifactSetWriter.Write(config, labelledImages: 20, dir);
            var initial = SemPPL.GraphGen.Artifacts.TensorFile.Read(Path.Combine(dir, manifest.InitialWeights));
            int lowered = 0, masks = 0;
            foreach (var file in new[] { SemPPL.GraphGen.Artifacts.ArtifactNames.TrainFile, "target.onnx", "eval.onnx" })
            {
                byte[] model = File.ReadAllBytes(Path.Combine(dir, file));
                if (B <= 1) { Assert.Same(model, NchwcSupport.Lower(model)); continue; }
                var proto = ModelProto.Parser.ParseFrom(model);
                lowered += NchwcConvLowering.Lower(proto, B);
                masks += ZeroMaskLowering.Lower(proto); // (the train graph's ReLU backwards)
                var feeds = TinyRunFeeds(proto.Graph, initial);
                var plain = RunAll(model, feeds);
                var low = RunAll(Google.Protobuf.MessageExtensions.ToByteArray(proto), feeds);
                foreach (var (name, a) in plain)
                {
                    var b = low[name];
                    double diff = Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum()), norm = Math.Sqrt(a.Sum(x => (double)x * x));
                    // 1e-6 absolute floor: the first Linear's bias of each MLP feeds a BatchNorm, its exact gradient is 0 (rounding noise both ways)
                    Assert.True(diff <= 1e-4 * norm + 1e-6, $"{file} {name}: |plain - lowered| = {diff:G3}, |plain| = {norm:G3}");
                }
            }
            if (B > 1) Assert.True(lowered >= 10, $"only {lowered} convolutions lowered in the tiny ResNet-18's graphs");
            if (B > 1) Assert.True(masks >= 10, $"only {masks} zero masks lowered in the tiny ResNet-18's graphs");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Feeds for a graph of the tiny run: the initial weights where an input is one (target.* from online.*),
    /// valid indices for int64 inputs, ones for masks, else uniform [-0.5, 0.5) from a fixed seed.</summary>
    internal static Dictionary<string, HostTensor> TinyRunFeeds(GraphProto graph, SemPPL.GraphGen.Artifacts.TensorFileContents initial)
    {
        var rng = new Random(5);
        var feeds = new Dictionary<string, HostTensor>();
        foreach (var input in graph.Input)
        {
            long[] shape = input.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray();
            int n = (int)Shapes.Product(shape);
            string online = input.Name.StartsWith("target.", StringComparison.Ordinal) ? "online." + input.Name["target.".Length..] : input.Name;
            var w = initial.Tensors.FirstOrDefault(t => t.Name == online).Tensor;
            feeds[input.Name] = input.Type.TensorType.ElemType == (int)TensorProto.Types.DataType.Int64
                ? HostTensor.Int64(shape, Enumerable.Range(0, n).Select(i => (long)(i % 3)).ToArray()) // valid class / row indices
                : w is not null && w.Floats.Length == n ? w
                : HostTensor.Float(shape, Enumerable.Range(0, n).Select(_ => input.Name.Contains("mask") ? 1f : (float)(rng.NextDouble() - 0.5)).ToArray());
        }
        return feeds;
    }

    private static Dictionary<string, float[]> RunAll(byte[] model, Dictionary<string, HostTensor> feeds)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        return RunAll(session, feeds);
    }

    /// <summary>Every float output of one run of <paramref name="session"/>.</summary>
    internal static Dictionary<string, float[]> RunAll(InferenceSession session, Dictionary<string, HostTensor> feeds)
    {
        var names = session.InputNames.ToArray();
        var values = names.Select(n => feeds[n].Type == DType.Int64 ? OrtValue.CreateTensorValueFromMemory(feeds[n].Longs, feeds[n].Shape)
                                                                     : OrtValue.CreateTensorValueFromMemory(feeds[n].Floats, feeds[n].Shape)).ToArray();
        try
        {
            var outNames = session.OutputMetadata.Where(o => o.Value.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float).Select(o => o.Key).ToArray();
            using var run = new RunOptions();
            using var outputs = session.Run(run, names, values, outNames);
            return outNames.Zip(outputs).ToDictionary(p => p.First, p => p.Second.GetTensorDataAsSpan<float>().ToArray());
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    /// <summary>A one- or two-convolution graph, its random feeds, and how many convolutions should lower.</summary>
    private static (byte[] Model, Dictionary<string, HostTensor> Feeds, int Lowered) Build(string geometry, int b)
    {
        var g = new GraphBuilder("nchwc");
        var feeds = new Dictionary<string, HostTensor>();
        var rng = new Random(geometry.Length);
        Value In(string name, params long[] shape)
        {
            feeds[name] = HostTensor.Float(shape, Enumerable.Range(0, (int)Shapes.Product(shape)).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray());
            return g.Input(name, DType.Float, shape);
        }
        long c = 2 * b, m = 2 * b;
        int lowered = 1;
        Value y = geometry switch
        {
            "3x3 s1" => g.Conv(In("x", 3, c, 7, 7), In("w", m, c, 3, 3), null, [1, 1], [1, 1, 1, 1]),
            "3x3 s2" => g.Conv(In("x", 3, c, 7, 7), In("w", m, c, 3, 3), null, [2, 2], [1, 1, 1, 1]),
            "1x1 s1" => g.Conv(In("x", 3, c, 5, 5), In("w", m, c, 1, 1), null, [1, 1], [0, 0, 0, 0]),
            "1x1 s2" => g.Conv(In("x", 3, c, 7, 7), In("w", m, c, 1, 1), null, [2, 2], [0, 0, 0, 0]),
            "stem 3x3 s2 C1" => g.Conv(In("x", 3, 1, 12, 12), In("w", m, 1, 3, 3), null, [2, 2], [1, 1, 1, 1]),
            "stem 3x3 s1 C3" => g.Conv(In("x", 3, 3, 9, 9), In("w", m, 3, 3, 3), null, [1, 1], [1, 1, 1, 1]),
            "3x3 s2 C<B" => g.Conv(In("x", 3, b / 2, 8, 8), In("w", m, b / 2, 3, 3), null, [2, 2], [1, 1, 1, 1]),
            "1x1 s2 C<B" => g.Conv(In("x", 3, b / 2, 8, 8), In("w", m, b / 2, 1, 1), null, [2, 2], [0, 0, 0, 0]),
            "1x1 s1 C<B" => g.Conv(In("x", 3, b / 2, 5, 5), In("w", m, b / 2, 1, 1), null, [1, 1], [0, 0, 0, 0]),
            "dX 3x3 s1" => g.ConvTranspose(In("dy", 3, m, 6, 6), In("w", m, c, 3, 3), null, [1, 1], [1, 1, 1, 1]),
            "dX 1x1 s1" => g.ConvTranspose(In("dy", 3, m, 6, 6), In("w", m, c, 1, 1), null, [1, 1], [0, 0, 0, 0]),
            "dilated 3x3 d2" => g.Conv(In("x", 2, c, 9, 9), In("w", m, c, 3, 3), null, [1, 1], [2, 2, 2, 2], [2, 2]),
            "asymmetric pads" => g.Conv(In("x", 2, c, 8, 8), In("w", m, c, 3, 3), null, [2, 2], [0, 0, 1, 1]),
            "bias" => g.Conv(In("x", 2, c, 6, 6), In("w", m, c, 3, 3), In("bias", m), [1, 1], [1, 1, 1, 1]),
            "grouped" => g.Conv(In("x", 2, c, 6, 6), In("w", m, c / 2, 3, 3), null, [1, 1], [1, 1, 1, 1], null, 2),
            "channels that do not block" => g.Conv(In("x", 2, b + 4, 6, 6), In("w", m, b + 4, 3, 3), null, [1, 1], [1, 1, 1, 1]),
            // strided input gradients (sub-pixel phases), also cropped to an odd size (4 -> 7) and with phases no tap reaches
            // (1x1: zeros; with a bias those phases would be the bias, so that stays as written)
            "dX 3x3 s2" => g.ConvTranspose(In("dy", 2, m, 4, 4), In("w", m, c, 3, 3), null, [2, 2], [1, 1, 1, 1], [1, 1]),
            "dX 3x3 s2 bias" => g.ConvTranspose(In("dy", 2, m, 3, 5), In("w", m, c, 3, 3), In("bias", c), [2, 2], [1, 1, 1, 1], [1, 1]),
            "dX 4x4 s2" => g.ConvTranspose(In("dy", 2, m, 4, 3), In("w", m, c, 4, 4), null, [2, 2], [1, 1, 1, 1]),
            "dX 3x3 s3" => g.ConvTranspose(In("dy", 2, m, 3, 4), In("w", m, c, 3, 3), null, [3, 3], [0, 0, 0, 0]),
            // 1x1 stride 2 lowers where C_in >= 4 x the output's positions (ZeroPhasesPay), so these are small images
            "dX 1x1 s2" => g.ConvTranspose(In("dy", 2, m, 1, 1), In("w", m, c, 1, 1), null, [2, 2], [0, 0, 0, 0], [1, 1]),
            "dX 1x1 s2 on a larger image" => g.ConvTranspose(In("dy", 2, m, 4, 4), In("w", m, c, 1, 1), null, [2, 2], [0, 0, 0, 0], [1, 1]),
            "dX 3x3 s2 to an odd size" => g.ConvTranspose(In("dy", 2, m, 4, 4), In("w", m, c, 3, 3), null, [2, 2], [1, 1, 1, 1]),
            "dX 3x3 s2 to an odd size, 5 x 4" => g.ConvTranspose(In("dy", 2, m, 3, 2), In("w", m, c, 3, 3), null, [2, 2], [1, 1, 1, 1], [0, 1]),
            "dX 3x3 s3 cropped by 2" => g.ConvTranspose(In("dy", 2, m, 3, 3), In("w", m, c, 3, 3), null, [3, 3], [0, 0, 2, 2]),
            "dX 1x1 s2 to an odd size" => g.ConvTranspose(In("dy", 2, m, 1, 2), In("w", m, c, 1, 1), null, [2, 2], [0, 0, 0, 0], [0, 1]),
            "dX 1x1 s2 bias" => g.ConvTranspose(In("dy", 2, m, 1, 1), In("w", m, c, 1, 1), In("bias", c), [2, 2], [0, 0, 0, 0], [1, 1]),
            _ => null!,
        };
        if (geometry == "shared input")
        {   // one input, two convolutions (a residual block's 3x3 and its 1x1 shortcut), sharing one ReorderInput
            var x = In("x", 2, c, 6, 6);
            y = g.Add(g.Conv(x, In("w1", m, c, 3, 3), null, [2, 2], [1, 1, 1, 1]), g.Conv(x, In("w2", m, c, 1, 1), null, [2, 2], [0, 0, 0, 0]));
            lowered = 2;
        }
        if (geometry == "dX and its forward conv")
        {   // a weight's forward Conv and its stride-1 input gradient (a ConvTranspose of the same weight), as in a train graph
            var w = In("w", c, c, 3, 3);
            y = g.Add(g.Conv(In("x", 2, c, 6, 6), w, null, [1, 1], [1, 1, 1, 1]), g.ConvTranspose(In("dy", 2, c, 6, 6), w, null, [1, 1], [1, 1, 1, 1]));
            lowered = 2;
        }
        if (geometry.StartsWith("channels-last", StringComparison.Ordinal))
        {   // the weight gradient's NCHW -> NHWC transpose of a conv input: read from the conv's NCHWc copy instead
            long ch = geometry.EndsWith("C=B", StringComparison.Ordinal) ? b : 2 * b;
            var x = In("x", 2, ch, 5, 6);
            var conv = g.Conv(x, In("w", ch, ch, 3, 3), null, [1, 1], [1, 1, 1, 1]);
            y = g.Add(g.Transpose(x, 0, 2, 3, 1), g.Transpose(conv, 0, 2, 3, 1));
        }
        if (geometry.StartsWith("dW product", StringComparison.Ordinal))
        {   // graphgen's GatherIm2Col weight gradient of a 3x3 s1 conv; R = N*Ho*Wo must be >= 4*C*K for the rewrite
            long ch = geometry.EndsWith("C=B", StringComparison.Ordinal) ? b : 2 * b, hw = geometry.EndsWith("short sum", StringComparison.Ordinal) ? 4 : 12;
            long n = geometry.EndsWith("short sum", StringComparison.Ordinal) ? 1 : 4 * ch / b;
            var geo = new ConvGeometry([1, 1], [1, 1, 1, 1], [1, 1], 1, [n, ch, hw, hw], [m, ch, 3, 3], [n, m, hw, hw]);
            var x = In("x", n, ch, hw, hw);
            var dy = geometry.EndsWith("forward conv", StringComparison.Ordinal) ? g.Conv(x, In("w", m, ch, 3, 3), null, [1, 1], [1, 1, 1, 1]) : In("dy", n, m, hw, hw);
            y = ConvBackward.WeightGradient(g, x, dy, geo, ConvWeightGradMethod.GatherIm2Col);
            lowered = geometry.EndsWith("forward conv", StringComparison.Ordinal) ? 2 : 1;
        }
        g.Output(y, "out");
        return (g.ToBytes(), feeds, lowered);
    }

    private static float[] Run(byte[] model, Dictionary<string, HostTensor> feeds) => RunAll(model, feeds)["out"];
}

/// <summary>The session settings a run derives from the config's <c>threads</c> key.</summary>
public class RunSessionSettingsTests
{
    [Fact]
    public void Threads_zero_is_the_processor_count_and_threads_never_spin()
    {
        var auto = SessionSettings.ForRun(0);
        Assert.Equal(Environment.ProcessorCount, auto.IntraOpThreads);
        Assert.False(auto.AllowSpinning);
        Assert.Equal(3, SessionSettings.ForRun(3).IntraOpThreads);
        using var factory = new SessionFactory(ExecutionDevice.Parse("cpu"), SessionSettings.ForRun(1));
        Assert.Equal(1, factory.IntraOpThreads);
    }
}

using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>
/// Rewrites a model's convolutions for ONNX Runtime's CPU NCHWc kernels (domain com.microsoft.nchwc), which ORT's
/// own NchwcTransformer applies only to convolutions with constant weights: ours are graph inputs (trained, EMA'd).
/// MLAS's direct NCHWc kernels beat its im2col + per-image GEMM Conv by 2-3x on the small spatial sizes of our
/// networks (2 cores, AVX-512: [80,64,4,4] 3x3 0.85 -> 0.33 ms, [80,32,7,7] 1.13 -> 0.40 ms, reorders included).
/// <list type="bullet">
/// <item>Conv (2-D, group 1, weight shape known, M a multiple of the block size B): the weight is reordered in the
/// graph (reshapes and single-axis transposes, once per run) to MLAS's blocked filter layout, OIHWBiBo when the input
/// channels C are a multiple of B (the input goes through ReorderInput) or OIHWBo when C &lt; B (the input stays
/// NCHW, as for an image stem); NchwcConv; ReorderOutput back to NCHW under the original output name.</item>
/// <item>ConvTranspose with stride 1, dilation 1, group 1 (graphgen's stride-1 Conv input gradient): the same as a
/// Conv with the kernel flipped and its two channel axes swapped, pads k-1-p; lowered as above.</item>
/// <item>Transpose(x, [0, 2, 3, 1]) of a reordered conv input (the Conv weight gradient's channels-last unfold): read
/// from the NCHWc copy, a Reshape when C = B.</item>
/// <item>The Conv weight gradient's product (graphgen's GatherIm2Col form: dY^T [M, R] times the taps' columns
/// [K, R, C], R = N*Ho*Wo): as a pointwise NchwcConv whose R input channels are the product's sum, dY blocked by
/// positions as its input and the columns, gathered in blocks of B channels, as its filter (see
/// <see cref="Rewriter.WeightGradientProduct"/>). MLAS's pointwise NCHWc kernel runs this 1.3-1.8x faster than its
/// SGEMM runs the MatMul (case (a)'s four stages on 2 cores, AVX-512).</item>
/// <item>Strided ConvTranspose (graphgen's input gradient of a strided Conv) whose output is stride times its input per
/// axis, or up to stride - 1 fewer (3x3 s2 pad 1 on even sizes, and on odd ones: 4 -> 7): by sub-pixel decomposition,
/// one stride-1 NchwcConv per output phase (the kernel's taps that reach that phase), interleaved while still blocked,
/// then cropped (see <see cref="Rewriter.ConvTransposeStrided"/>). Phases no tap reaches (1x1 kernels) are zeros,
/// taken only where the product is large against the output (small images with many channels).</item>
/// </list>
/// Everything else (grouped convolutions, channel counts that do not block, dilated strided ConvTranspose) is left
/// as is.
/// One input feeding several convolutions is reordered once; one weight used twice in one layout is reordered once.
/// The rewrite is exact up to float summation order. The artifacts on disk stay standard ONNX: the trainer lowers
/// a copy when it opens a CPU session (SessionFactory), with B probed from the ORT build it runs on.
/// </summary>
public static class NchwcConvLowering
{
    public const string Domain = "com.microsoft.nchwc";

    /// <summary>A model with one ReorderInput of a [1, 4, 1, 1] input "x" to output "y": y's channel count is the
    /// block size of the ORT build that runs it (channels padded up to a multiple of B).</summary>
    public static byte[] ProbeModel()
    {
        var g = new GraphBuilder("nchwc_probe");
        var x = g.Input("x", DType.Float, 1, 4, 1, 1);
        g.Output(g.AddNode("ReorderInput", [x], [(DType.Float, [1, -1, 1, 1])], domain: Domain)[0], "y");
        return g.ToBytes();
    }

    /// <summary>Lowers <paramref name="model"/> in place for block size <paramref name="blockSize"/> (&gt; 1); returns
    /// how many convolution nodes were lowered (0: the model is unchanged). <paramref name="forms"/> turns the optional
    /// rewrites off (for A/B benchmarks); default all.</summary>
    public static int Lower(ModelProto model, int blockSize, NchwcLoweringForms? forms = null)
    {
        forms ??= NchwcLoweringForms.All;
        if (blockSize <= 1) throw new ArgumentOutOfRangeException(nameof(blockSize), $"NCHWc block size {blockSize}: expected > 1");
        var graph = model.Graph;
        var shapes = GraphShapes.Known(graph);
        var rewriter = new Rewriter(graph, shapes, blockSize);
        int lowered = NodeRewrite.Apply(graph, rewriter.Emitter, node => node.OpType switch
        {
            "Conv" => rewriter.Conv(node),
            "ConvTranspose" => rewriter.ConvTransposeStride1(node) ?? (forms.StridedInputGradients ? rewriter.ConvTransposeStrided(node) : null),
            "Transpose" => rewriter.ChannelsLastFromBlocked(node),
            "MatMul" when forms.WeightGradientProducts => rewriter.WeightGradientProduct(node),
            _ => null,
        }, counts: node => node.OpType != "Transpose"); // (a Transpose rewrite implies a lowered Conv before it)
        if (lowered == 0) return 0;
        if (!model.OpsetImport.Any(o => o.Domain == Domain))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = Domain, Version = 1 });
        return lowered;
    }

    private sealed class Rewriter(GraphProto graph, Dictionary<string, long[]> shapes, int b)
    {
        private readonly GraphProducers _graph = new(graph);

        private readonly Dictionary<string, (string Blocked, long Channels)> _reorderedInputs = []; // NCHW input -> its NCHWc copy
        private readonly Dictionary<string, string> _blockedWeights = [];    // weight name + layout -> blocked weight
        public NodeEmitter Emitter { get; } = new(graph, "nchwc");
        private List<NodeProto> Emitted => Emitter.Nodes; // the current rewrite's nodes


        public List<NodeProto>? Conv(NodeProto node)
        {
            if (node.Input.Count < 2 || !shapes.TryGetValue(node.Input[1], out var w) || w.Length != 4) return null;
            if (NodeAttributes.Int(node, "group", 1) != 1 || NodeAttributes.Str(node, "auto_pad", "NOTSET") != "NOTSET") return null;
            long m = w[0], c = w[1];
            if (!Blocks(m) || !(Blocks(c) || c < b)) return null;
            Emitter.Begin();
            string weight = c < b ? BlockedFilterOIHWBo(node.Input[1], w) : BlockedFilterOIHWBiBo(node.Input[1], w, flip: false);
            string input = c < b ? node.Input[0] : ReorderedInput(node.Input[0], c);
            EmitConv(node, input, weight, node.Input.Count > 2 ? node.Input[2] : "", m,
                     NodeAttributes.Ints(node, "kernel_shape") ?? [w[2], w[3]], NodeAttributes.Ints(node, "strides") ?? [1, 1], NodeAttributes.Ints(node, "pads") ?? [0, 0, 0, 0],
                     NodeAttributes.Ints(node, "dilations") ?? [1, 1]);
            return Emitted;
        }

        public List<NodeProto>? ConvTransposeStride1(NodeProto node)
        {
            if (node.Input.Count < 2 || !shapes.TryGetValue(node.Input[1], out var w) || w.Length != 4) return null;
            if (NodeAttributes.Int(node, "group", 1) != 1 || NodeAttributes.Str(node, "auto_pad", "NOTSET") != "NOTSET" || node.Attribute.Any(a => a.Name == "output_shape")) return null;
            if ((NodeAttributes.Ints(node, "strides") ?? [1, 1]).Any(v => v != 1) || (NodeAttributes.Ints(node, "dilations") ?? [1, 1]).Any(v => v != 1)
                || (NodeAttributes.Ints(node, "output_padding") ?? [0, 0]).Any(v => v != 0)) return null;
            long cin = w[0], cout = w[1], kh = w[2], kw = w[3]; // ConvTranspose weight [C_in, C_out, kH, kW]
            if (!Blocks(cin) || !Blocks(cout)) return null;
            var p = NodeAttributes.Ints(node, "pads") ?? [0, 0, 0, 0];
            long[] convPads = [kh - 1 - p[0], kw - 1 - p[1], kh - 1 - p[2], kw - 1 - p[3]];
            if (convPads.Any(v => v < 0)) return null;
            Emitter.Begin();
            string weight = BlockedFilterOIHWBiBo(node.Input[1], w, flip: true);
            EmitConv(node, ReorderedInput(node.Input[0], cin), weight, node.Input.Count > 2 ? node.Input[2] : "", cout, [kh, kw], [1, 1], convPads, [1, 1]);
            return Emitted;
        }

        /// <summary>
        /// A ConvTranspose with stride s (both axes) whose output is s times its input, or up to s - 1 rows and columns
        /// fewer (output_padding + k - pads = s - e per axis: e.g. 4 -> 7), as s*s stride-1 convolutions over the s*h x s*w
        /// output, then cropped by a Slice; one convolution per output phase (py, px): output row
        /// s*a + py (full row f = s*a + py + pad_begin) sums input rows a + d for the taps t with f - t = s*(a + d), i.e.
        /// t = py + pad_begin - s*d. Those taps, t_min..t_max in steps of s, are a Slice of the weight; as a Conv they read
        /// input rows a + d_min .. a + d_max (pads -d_min, d_max) with the taps reversed (the flip of the stride-1 case).
        /// The phases' blocked outputs are interleaved by one Transpose that moves runs of B floats (DepthToSpace on NCHW,
        /// which moves single floats, cost 8 ms a node on case (a) and ate most of the gain), then reordered once.
        /// FLOPs equal the ConvTranspose's; the NCHWc kernels run them 1.5-2x faster than ORT's ConvTranspose (col2im).
        /// A phase no tap reaches (a 1x1 kernel at stride 2 reaches one phase in four) is zeros, where that pays
        /// (<see cref="ZeroPhasesPay"/>) and there is no bias.
        /// </summary>
        public List<NodeProto>? ConvTransposeStrided(NodeProto node)
        {
            if (node.Input.Count < 2 || !shapes.TryGetValue(node.Input[1], out var w) || w.Length != 4) return null;
            if (NodeAttributes.Int(node, "group", 1) != 1 || NodeAttributes.Str(node, "auto_pad", "NOTSET") != "NOTSET" || node.Attribute.Any(a => a.Name == "output_shape")) return null;
            var strides = NodeAttributes.Ints(node, "strides") ?? [1, 1];
            if (strides.Length != 2 || strides[0] != strides[1] || strides[0] < 2 || (NodeAttributes.Ints(node, "dilations") ?? [1, 1]).Any(v => v != 1)) return null;
            long s = strides[0], cin = w[0], cout = w[1];
            if (!Blocks(cin) || !Blocks(cout)) return null;
            var p = NodeAttributes.Ints(node, "pads") ?? [0, 0, 0, 0];
            var op = NodeAttributes.Ints(node, "output_padding") ?? [0, 0];
            bool hasBias = node.Input.Count > 2 && node.Input[2].Length > 0;
            var taps = new (long First, long Count, long PadBegin, long PadEnd)[2, s]; // per axis, per phase; Count 0: no tap
            var crop = new long[2];                                                     // rows / columns past the output
            for (int axis = 0; axis < 2; axis++)
            {
                long k = w[2 + axis];
                crop[axis] = s - (op[axis] + k - p[axis] - p[axis + 2]);
                if (crop[axis] < 0 || crop[axis] >= s) return null;
                for (long phase = 0; phase < s; phase++)
                {
                    long first = ((phase + p[axis]) % s + s) % s; // smallest t with (phase + pad_begin - t) divisible by s
                    if (first >= k)
                    {   // no tap reaches this phase: zeros (a bias would need its own broadcast)
                        if (hasBias || !ZeroPhasesPay(node, cin, s)) return null;
                        continue;
                    }
                    long count = (k - 1 - first) / s + 1, last = first + (count - 1) * s;
                    long dMin = (phase + p[axis] - last) / s, dMax = (phase + p[axis] - first) / s;
                    if (dMin > 0 || dMax < 0) return null;
                    taps[axis, phase] = (first, count, -dMin, dMax);
                }
            }
            Emitter.Begin();
            string input = ReorderedInput(node.Input[0], cin), bias = node.Input.Count > 2 ? node.Input[2] : "";
            var phases = new NodeProto { Name = Emitter.Fresh(node.Name + ".phases"), OpType = "Concat", Output = { Emitter.Fresh(node.Output[0] + ".phases") } };
            phases.Attribute.Add(NodeEmitter.Int("axis", 0));
            string shape = Emitter.Fresh(node.Input[0] + ".shape");
            Emitted.Add(new NodeProto { Name = Emitter.Fresh(node.Input[0] + ".shape_of"), OpType = "Shape", Input = { node.Input[0] }, Output = { shape } });
            string n = Gathered(shape, Emitter.Const([0]), axis: 0), hw = Gathered(shape, Emitter.Const([2, 3]), axis: 0);
            string? zeros = null; // one zero phase [N, C_out, h, w] for every phase no tap reaches
            for (long py = 0; py < s; py++)
                for (long px = 0; px < s; px++)
                {
                    var (y, x) = (taps[0, py], taps[1, px]);
                    if (y.Count == 0 || x.Count == 0)
                    {
                        zeros ??= Emitter.Op("ConstantOfShape", node.Output[0] + ".zero_phase", [Concatenated([n, Emitter.Const([cout]), hw])],
                            attributes: new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor,
                                T = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1 }, FloatData = { 0f } } });
                        phases.Input.Add(zeros);
                        continue;
                    }
                    string sub = Emitter.Fresh($"{node.Input[1]}.phase{py}{px}");
                    Emitted.Add(new NodeProto
                    {
                        Name = Emitter.Fresh($"{node.Name}.phase{py}{px}.taps"), OpType = "Slice", Output = { sub },
                        Input = { node.Input[1], Emitter.Const([y.First, x.First]), Emitter.Const([y.First + (y.Count - 1) * s + 1, x.First + (x.Count - 1) * s + 1]), Emitter.Const([2, 3]), Emitter.Const([s, s]) },
                    });
                    string weight = BlockedFilterOIHWBiBo(sub, [cin, cout, y.Count, x.Count], flip: true);
                    phases.Input.Add(EmitBlockedConv(node, input, weight, bias, [y.Count, x.Count], [1, 1], [y.PadBegin, x.PadBegin, y.PadEnd, x.PadEnd], [1, 1]));
                }
            Emitted.Add(phases);
            // the phases, blocked [s*s*N, C, h, w] (channels in blocks of B), interleaved in runs of B floats:
            // [s, s, N, C/B, h, w, B] -> [N, C/B, h, s, w, s, B] = the blocked output [N, C, s*h, s*w]; one ReorderOutput
            string split = Concatenated([Emitter.Const([s, s]), n, Emitter.Const([cout / b]), hw, Emitter.Const([b])]);
            string blockedOut = Emitter.Transposed(Emitter.Reshaped(phases.Output[0], split), [2, 3, 4, 0, 5, 1, 6]);
            string outHw = Multiplied(hw, Emitter.Const([s]));
            if (crop[0] > 0 || crop[1] > 0)
            {   // the last rows / columns of the s*h x s*w output are past the ConvTranspose's: cropped while blocked
                // ([N, C/B, s*h, s*w, B], runs of B floats per position; on NCHW the runs were a row of floats)
                string blocked5 = Emitter.Reshaped(blockedOut, Concatenated([n, Emitter.Const([cout / b]), outHw, Emitter.Const([b])]));
                blockedOut = Emitter.Op("Slice", blocked5 + ".cropped", [blocked5, Emitter.Const([0, 0]),
                    Emitter.Const([crop[0] > 0 ? -crop[0] : long.MaxValue, crop[1] > 0 ? -crop[1] : long.MaxValue]), Emitter.Const([2, 3])]);
                outHw = Emitter.Op("Sub", outHw + ".cropped", [outHw, Emitter.Const(crop)]);
            }
            string interleaved = Emitter.Reshaped(blockedOut, Concatenated([n, Emitter.Const([cout]), outHw]));
            var back = new NodeProto { Name = Emitter.Fresh(node.Name + ".reorder_output"), OpType = "ReorderOutput", Domain = Domain, Input = { interleaved }, Output = { node.Output[0] } };
            back.Attribute.Add(NodeEmitter.Int("channels", cout));
            Emitted.Add(back);
            return Emitted;
        }

        /// <summary>
        /// Zero phases are written, interleaved and reordered with the rest: passes over the whole output that ORT's
        /// ConvTranspose (a GEMM, then a scatter into a zeroed output) does not make. They pay where the product is large
        /// per output position, C_in >= 4 * s*h * s*w. 1x1 stride-2 input gradients, lowered / ORT's, ms per node
        /// (`step --profile`, case b then a): 2x2 -> 4x4, C_in 128: 0.23 / 0.46; 4x4 -> 7x7, 64: 0.36 / 0.23; 7x7 -> 14x14,
        /// 32: 0.51 / 0.26; 4x4 -> 8x8, 512: 3.4 / 4.7; 8x8 -> 16x16, 256: 5.0 / 4.9; 16x16 -> 32x32, 128: 9.7 / 7.1.
        /// </summary>
        private bool ZeroPhasesPay(NodeProto node, long cin, long s) =>
            shapes.TryGetValue(node.Input[0], out var x) && x.Length == 4 && x[2] > 0 && x[3] > 0 && cin >= 4 * s * x[2] * s * x[3];

        private bool Blocks(long channels) => channels > 0 && channels % b == 0;

        /// <summary>
        /// Transpose(x, [0, 2, 3, 1]) (NCHW -> NHWC: graphgen's Conv weight gradient unfolds the channels-last input)
        /// of an x that a lowered Conv already reordered to NCHWc [N, C/B, H, W, B]: with C = B that buffer IS the
        /// NHWC tensor (a Reshape, no copy); otherwise moving the C/B axis inward copies runs of B floats, where the
        /// NCHW transpose moves single floats.
        /// </summary>
        public List<NodeProto>? ChannelsLastFromBlocked(NodeProto node)
        {
            if (!_reorderedInputs.TryGetValue(node.Input[0], out var reordered) || !(NodeAttributes.Ints(node, "perm") ?? []).SequenceEqual([0L, 2, 3, 1])) return null;
            var (blocked, c) = reordered;
            Emitter.Begin();
            string shape = Emitter.Fresh(node.Input[0] + ".shape");
            Emitted.Add(new NodeProto { Name = Emitter.Fresh(node.Input[0] + ".shape_of"), OpType = "Shape", Input = { node.Input[0] }, Output = { shape } });
            string nhwc = Emitter.Fresh(node.Input[0] + ".nhwc_shape");
            Emitted.Add(new NodeProto { Name = Emitter.Fresh(node.Input[0] + ".nhwc_dims"), OpType = "Gather", Input = { shape, Emitter.Const([0, 2, 3, 1]) }, Output = { nhwc } });
            string source = blocked;
            if (c != b)
                source = Emitter.Transposed(Emitter.Reshaped(blocked, [0, c / b, -1, b]), [0, 2, 1, 3]);
            Emitted.Add(new NodeProto { Name = Emitter.Fresh(node.Name + ".from_nchwc"), OpType = "Reshape", Input = { source, nhwc }, Output = { node.Output[0] } });
            return Emitted;
        }

        /// <summary>
        /// prod = MatMul(dyt, cols) of graphgen's GatherIm2Col weight gradient, recognised by its producers:
        /// dyt = Reshape(Transpose(Reshape(dY, [N, M, L]), [1, 0, 2]), [M, R]) and cols = Gather(rows, Reshape(idx, [K, R]))
        /// with rows = Reshape(., [P, C]) the channels-last padded input (R = N*L). When C and L are multiples of B:
        /// <list type="bullet">
        /// <item>filter: rows as [C/B, P, B] (one transpose of the input-sized rows), gathered along axis 1 by the same
        /// index: [C/B, K, R, B], which is the OIHWBiBo filter of O = C*K outputs (order cb, k, ci) over I = R inputs;</item>
        /// <item>input: dY [N, M, L/B, B] -> [N, L/B, M, B] (a channels-last ReorderInput), the NCHWc form of [1, R, 1, M] (positions m);</item>
        /// <item>NchwcConv 1x1 -> [1, C*K, 1, M], reordered and transposed (small) back to the product's [K, M, C].</item>
        /// </list>
        /// </summary>
        public List<NodeProto>? WeightGradientProduct(NodeProto node)
        {
            if (WeightGradientProductPattern.Match(node, _graph) is not { } pattern) return null;
            var (dy, n, m, l, gather, _, p, c, k, r) = pattern;
            if (!Blocks(c) || !Blocks(l) || r < ProductMinReductionRatio * c * k) return null;
            Emitter.Begin();
            string rows = RowsFromBlocked(pattern) ?? Emitter.Transposed(Emitter.Reshaped(gather.Input[0], [p, c / b, b]), [1, 0, 2]);
            string filter = Emitter.Reshaped(Gathered(rows, gather.Input[1], axis: 1), [c * k, r, 1, 1]);
            // dY [N, M, L] read as channels-last [N, H = M, W = 1, C = L]: ReorderInput's NCHWc output [N, L/B, M, 1, B] is
            // [N, L/B, M, B] (MLAS's vectorised reorder; the same move as a Transpose copies 64-byte runs on one thread, 3x slower)
            string blockedDy = Emitter.Fresh(dy + ".by_positions");
            var reorderDy = new NodeProto { Name = Emitter.Fresh(dy + ".reorder_positions"), OpType = "ReorderInput", Domain = Domain, Input = { Emitter.Reshaped(dy, [n, m, 1, l]) }, Output = { blockedDy } };
            reorderDy.Attribute.Add(NodeEmitter.Int("channels_last", 1));
            Emitted.Add(reorderDy);
            string input = Emitter.Reshaped(blockedDy, [1, r, 1, m]);
            string y = Emitter.Fresh(node.Output[0] + ".nchwc");
            var conv = new NodeProto { Name = Emitter.Fresh(node.Name + ".nchwc"), OpType = "Conv", Domain = Domain, Input = { input, filter }, Output = { y } };
            conv.Attribute.Add(NodeEmitter.Ints("kernel_shape", [1, 1]));
            Emitted.Add(conv);
            string back = Emitter.Fresh(node.Output[0] + ".reordered");
            var reorder = new NodeProto { Name = Emitter.Fresh(node.Name + ".reorder_output"), OpType = "ReorderOutput", Domain = Domain, Input = { y }, Output = { back } };
            reorder.Attribute.Add(NodeEmitter.Int("channels", c * k));
            Emitted.Add(reorder);
            // [1, C*K, 1, M] in order (cb, k, ci) -> [C/B, K, B, M] -> [K, M, C/B, B] = the product [K, M, C]
            var product = Emitter.Transposed(Emitter.Reshaped(back, [c / b, k, b, m]), [1, 3, 0, 2]);
            Emitted.Add(new NodeProto { Name = Emitter.Fresh(node.Name + ".product"), OpType = "Reshape", Input = { product, Emitter.Const([k, m, c]) }, Output = { node.Output[0] } });
            return Emitted;
        }

        /// <summary>
        /// The product's rows in channel blocks [C/B, P, B] read from the NCHWc copy of the conv input x that a lowered
        /// forward Conv made, when rows = Reshape(Pad?(Transpose(x, [0, 2, 3, 1]) as [N, H*W*C]), [P, C]): [N, C/B, H, W, B]
        /// moved to [C/B, N, H*W*B] (runs of H*W*B floats) and padded as the rows were, whole image rows per sample (case
        /// (a): 50 ms of transposes a step less). Null when the rows have another source; then they are transposed from
        /// channels-last (two passes of B-float runs: the unfold's and this one).
        /// </summary>
        private string? RowsFromBlocked(WeightGradientProductPattern pattern)
        {
            if (pattern.ChannelsLastSource(_graph) is not { } source) return null;
            var (x, before, after, padValue) = source;
            var (n, p, c) = (pattern.N, pattern.P, pattern.C);
            if (!_reorderedInputs.TryGetValue(x, out var reordered) || reordered.Channels != c) return null;
            string channelMajor = Emitter.Reshaped(Emitter.Transposed(Emitter.Reshaped(reordered.Blocked, [n, c / b, -1]), [1, 0, 2]), [c / b * n, -1]);
            if (before != 0 || after != 0)
            {   // a sample's zero rows of C floats each are as many rows of B floats in each channel block
                string padded = Emitter.Fresh(channelMajor + ".padded");
                var padNode = new NodeProto { Name = Emitter.Fresh(channelMajor + ".pad"), OpType = "Pad", Output = { padded },
                                              Input = { channelMajor, Emitter.Const([0, before / c * b, 0, after / c * b]) } };
                if (padValue.Length > 0) padNode.Input.Add(padValue);
                Emitted.Add(padNode);
                channelMajor = padded;
            }
            return Emitter.Reshaped(channelMajor, [c / b, p, b]);
        }

        /// <summary>
        /// The pointwise form pays where the product's sum (R = N*Ho*Wo) is long against its output (C*K per output channel):
        /// there MLAS's SGEMM is slowest and the result's transposes are small. Case (a) on 2 cores, AVX-512, per node:
        /// stage 1 (R 81,920, C*K 576) 38-46 vs 55 ms, stage 2 (20,480 / 1,152) 42 vs 46 ms; stage 3 (5,120 / 2,304) 38 vs
        /// 39 ms and stage 4 (1,280 / 4,608) lose, as the [M, C*K] result's generic transposes cost 5-12 ms there.
        /// </summary>
        private const long ProductMinReductionRatio = 4;


        private string Gathered(string data, string index, long axis) => Emitter.Op("Gather", data + ".gathered", [data, index], attributes: NodeEmitter.Int("axis", axis));

        private void EmitConv(NodeProto node, string input, string weight, string bias, long outChannels,
                              long[] kernel, long[] strides, long[] pads, long[] dilations)
        {
            string y = EmitBlockedConv(node, input, weight, bias, kernel, strides, pads, dilations);
            var back = new NodeProto { Name = Emitter.Fresh(node.Name + ".reorder_output"), OpType = "ReorderOutput", Domain = Domain, Input = { y }, Output = { node.Output[0] } };
            back.Attribute.Add(NodeEmitter.Int("channels", outChannels));
            Emitted.Add(back);
        }

        /// <summary>An NchwcConv of <paramref name="node"/>'s geometry; returns its blocked output.</summary>
        private string EmitBlockedConv(NodeProto node, string input, string weight, string bias, long[] kernel, long[] strides, long[] pads, long[] dilations)
        {
            string y = Emitter.Fresh(node.Output[0] + ".nchwc");
            var conv = new NodeProto { Name = Emitter.Fresh(node.Name + ".nchwc"), OpType = "Conv", Domain = Domain, Output = { y } };
            conv.Input.Add(input); conv.Input.Add(weight);
            if (bias.Length > 0) conv.Input.Add(bias);
            conv.Attribute.Add(NodeEmitter.Ints("kernel_shape", kernel));
            conv.Attribute.Add(NodeEmitter.Ints("strides", strides));
            conv.Attribute.Add(NodeEmitter.Ints("pads", pads));
            conv.Attribute.Add(NodeEmitter.Ints("dilations", dilations));
            conv.Attribute.Add(NodeEmitter.Int("group", 1));
            Emitted.Add(conv);
            return y;
        }

        private string ReorderedInput(string x, long channels)
        {
            if (_reorderedInputs.TryGetValue(x, out var done)) return done.Blocked;
            string y = Emitter.Fresh(x + ".nchwc");
            Emitted.Add(new NodeProto { Name = Emitter.Fresh(x + ".reorder_input"), OpType = "ReorderInput", Domain = Domain, Input = { x }, Output = { y } });
            _reorderedInputs[x] = (y, channels);
            return y;
        }

        /// <summary>[M, C, kH, kW] -> [M/B, C/B, kH, kW, Bi, Bo] (as [M, C, kH, kW]). With flip, the input is a
        /// ConvTranspose weight [C_in, C_out, kH, kW] and the result is the equivalent Conv's blocked filter:
        /// out channel = C_out, in channel = C_in, kernel rotated by 180 degrees. Built from transposes that each move
        /// one axis (ORT copies those in contiguous runs, or as MLAS 2-D transposes when one float moves; one general
        /// 6-D transpose was ~10x slower: 1.7 ms for a 128x128x3x3 weight, more than its convolution). Both layouts
        /// start from the same first pass, so a weight used by a Conv and its input gradient makes it once.</summary>
        private string BlockedFilterOIHWBiBo(string w, long[] s, bool flip)
        {
            string key = w + (flip ? "|flipped-OIHWBiBo" : "|OIHWBiBo");
            if (_blockedWeights.TryGetValue(key, out var done)) return done;
            long k = s[2] * s[3], mb = s[0] / b, cb = s[1] / b;
            // [M/B, Bo, C/B * Bi * K] -> [M/B, C/B * Bi * K, Bo]: [mb, cb, ci, k, mo] (M: the first axis, C: the second)
            string a = OutputLanesInnermost(w, s);
            if (!flip) // [mb * cb, ci, k, mo] -> [mb * cb, k, ci, mo]
                return _blockedWeights[key] = Emitter.Reshaped(Emitter.Transposed(Emitter.Reshaped(a, [mb * cb, b, k, b]), [0, 2, 1, 3]), s);
            // the equivalent Conv's filter [cb, mb, k', mi, co] (its outputs are C, its inputs M): [mb * cb, ci, k * mo] ->
            // [mb * cb, k * mo, ci] -> as [mb, cb, K*B*B] -> [cb, mb, K*B*B] (runs of K*B*B floats), then the kernel
            // rotated: the flat tap index reversed on [cb * mb, K, B*B], each tap a run of B*B floats (a Slice with step -1
            // on the weight as given moves single floats: 35 ms a step in case (a)'s train graph)
            var taps = Emitter.Transposed(Emitter.Reshaped(a, [mb * cb, b, k * b]), [0, 2, 1]);
            var blocked = Emitter.Reshaped(Emitter.Transposed(Emitter.Reshaped(taps, [mb, cb, k * b * b]), [1, 0, 2]), [cb * mb, k, b * b]);
            string rotated = Emitter.Fresh(w + ".rotated");
            Emitted.Add(new NodeProto
            {
                Name = Emitter.Fresh(w + ".rotate"), OpType = "Slice", Output = { rotated },
                Input = { blocked, Emitter.Const([-1]), Emitter.Const([long.MinValue]), Emitter.Const([1]), Emitter.Const([-1]) },
            });
            return _blockedWeights[key] = Emitter.Reshaped(rotated, [s[1], s[0], s[2], s[3]]);
        }

        /// <summary>[M, C, kH, kW] as [M/B, B, C*K] -> [M/B, C*K, B]: the first pass of both blocked layouts, once per weight.</summary>
        private string OutputLanesInnermost(string w, long[] s)
        {
            string key = w + "|lanes-innermost";
            if (_blockedWeights.TryGetValue(key, out var done)) return done;
            return _blockedWeights[key] = Emitter.Transposed(Emitter.Reshaped(w, [s[0] / b, b, s[1] * s[2] * s[3]]), [0, 2, 1]);
        }

        /// <summary>[M, C, kH, kW] -> [M/B, C, kH, kW, Bo] (as [M, C, kH, kW]): the filter of an NCHW-input NchwcConv
        /// (one axis moved: [M/B, Bo, C*K] -> [M/B, C*K, Bo]).</summary>
        private string BlockedFilterOIHWBo(string w, long[] s)
        {
            string key = w + "|OIHWBo";
            if (_blockedWeights.TryGetValue(key, out var done)) return done;
            return _blockedWeights[key] = Emitter.Reshaped(Emitter.Transposed(Emitter.Reshaped(w, [s[0] / b, b, s[1] * s[2] * s[3]]), [0, 2, 1]), s);
        }

        private string Concatenated(string[] parts) => Emitter.Op("Concat", parts[0] + ".concatenated", parts, attributes: NodeEmitter.Int("axis", 0));

        private string Multiplied(string a, string b) => Emitter.Op("Mul", a + ".scaled", [a, b]);
    }
}

using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Lowering;

/// <summary>
/// Rewrites the 3x3 convolutions of small images with many channels (ResNet-18's last stage at 32 px: [N, 512, 4, 4])
/// as Winograd F(2x2, 3x3) products for CPU sessions: 16 matrix products over the tiles instead of 9 taps over the
/// positions, 2.25x fewer multiply-adds. The direct NCHWc kernels run near this CPU's peak, so only fewer FLOPs help.
/// <list type="bullet">
/// <item>Conv(x, w) with a 3x3 kernel, stride 1, pads 1, no bias: per image and channel, the 16 transform points of the
/// T = H*W/4 input tiles are one product with a constant [16*T, H*W] matrix (B^T d B for each 4x4 tile, zero padding
/// included); then one batched product per point with the transformed filter U = G w G^T; then the inverse transform,
/// a constant [H*W, 16*T] matrix.</item>
/// <item>ConvTranspose(dy, w) of the same geometry (graphgen's stride-1 input gradient of such a Conv): the adjoint of
/// the above, the transposed matrices in reverse order with the same U, so a weight's Conv and input gradient share
/// one filter transform.</item>
/// <item>The weight gradient's product (graphgen's GatherIm2Col form, [9, O, C]) of such a Conv: the adjoint of the
/// filter transform applied to sum over tiles of the two sides' transform points, dU = dM^T V per point; both sides'
/// points are those the Conv and its input gradient compute (made once), and the unfold of x (9 copies) is dropped.</item>
/// </list>
/// The dense transforms cost H*W/C of the product per side, so a convolution lowers only where 16*H*W is at most its
/// channel counts: case (a)'s 8x8 x 256 layers, where they cost a quarter, gained 2-7 % and are left alone; its 4x4 x 512
/// layers run 21 vs 33 ms forward, 23 vs 39 ms input gradient, 22 vs 41 ms weight gradient (<c>wgrad --shape
/// 80,512,4,4 --winograd-compare</c>, 2 cores, AVX-512). A weight gradient alone lowers up to 4x larger images
/// (<see cref="PaysForWeightGradient"/>). H and W must be even and known: graphgen
/// states the shapes of convolution inputs in the artifact (value_info).
/// Rounding differs from the direct sum's but stays at its order, as the transforms' coefficients are 0, +-1 and +-1/2
/// (WinogradLoweringTests: against a double-precision convolution, within 4x ORT's direct kernels' own error).
/// </summary>
public static class WinogradConvLowering
{
    /// <summary>Rewrites <paramref name="model"/> in place; returns how many Conv, ConvTranspose and weight-gradient
    /// product nodes it replaced.</summary>
    public static int Lower(ModelProto model)
    {
        var graph = model.Graph;
        var rewriter = new Rewriter(graph, GraphShapes.Known(graph));
        int lowered = NodeRewrite.Apply(graph, rewriter.Emitter, node => node.OpType switch
        {
            "Conv" => rewriter.Conv(node),
            "ConvTranspose" => rewriter.ConvTranspose(node),
            "MatMul" => rewriter.WeightGradientProduct(node),
            _ => null,
        });
        if (lowered == 0) return 0;
        if (!model.OpsetImport.Any(o => o.Domain == ContribDomain))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = ContribDomain, Version = 1 });
        return lowered;
    }

    /// <summary>ORT's contrib domain: its FusedMatMul multiplies by a transposed operand without a copy.</summary>
    private const string ContribDomain = "com.microsoft";

    /// <summary>Whether F(2x2, 3x3) with dense transforms pays for an [N, C, H, W] input and O outputs (see the summary).</summary>
    public static bool Pays(long channels, long outputs, long h, long w) => Tiles(h, w) && 16 * h * w <= Math.Min(channels, outputs);

    /// <summary>The same for a weight gradient alone, which pays up to 4x larger images: what it replaces is slower than a
    /// direct convolution (the 9-copy unfold and an SGEMM product: case (a)'s [80, 256, 8, 8] x 256 layer 31 vs 49 ms,
    /// <c>wgrad --shape 80,256,8,8 --winograd-compare</c>, where the forward and input gradient gained 2 %).</summary>
    public static bool PaysForWeightGradient(long channels, long outputs, long h, long w) => Tiles(h, w) && 4 * h * w <= Math.Min(channels, outputs);

    private static bool Tiles(long h, long w) => h % 2 == 0 && w % 2 == 0 && h > 0 && w > 0;

    private static readonly double[,] InputTransform = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } }; // B^T
    private static readonly double[,] FilterTransform = { { 1, 0, 0 }, { .5, .5, .5 }, { .5, -.5, .5 }, { 0, 0, 1 } };      // G
    private static readonly double[,] OutputTransform = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };                                // A^T

    /// <summary>[16*T, H*W] (or its transpose): row (a, b, i, j) is transform point (a, b) of tile (i, j), whose 4x4 window
    /// starts at (2i - 1, 2j - 1); positions outside the image are the zero padding and drop out.</summary>
    internal static float[] TilesFromImage(long h, long w, bool transposed)
    {
        long hw = h * w, rows = 4 * hw;
        var m = new float[rows * hw];
        for (int a = 0; a < 4; a++) for (int b = 0; b < 4; b++) for (long i = 0; i < h / 2; i++) for (long j = 0; j < w / 2; j++)
        {
            long row = ((a * 4 + b) * (h / 2) + i) * (w / 2) + j;
            for (int u = 0; u < 4; u++) for (int v = 0; v < 4; v++)
            {
                long y = 2 * i - 1 + u, x = 2 * j - 1 + v;
                if (y < 0 || y >= h || x < 0 || x >= w) continue;
                long col = y * w + x;
                m[transposed ? col * rows + row : row * hw + col] = (float)(InputTransform[a, u] * InputTransform[b, v]);
            }
        }
        return m;
    }

    /// <summary>[H*W, 16*T] (or its transpose): output position (2i + u, 2j + v) from the points of tile (i, j).</summary>
    internal static float[] ImageFromTiles(long h, long w, bool transposed)
    {
        long hw = h * w, cols = 4 * hw;
        var m = new float[hw * cols];
        for (int a = 0; a < 4; a++) for (int b = 0; b < 4; b++) for (long i = 0; i < h / 2; i++) for (long j = 0; j < w / 2; j++)
        {
            long col = ((a * 4 + b) * (h / 2) + i) * (w / 2) + j;
            for (int u = 0; u < 2; u++) for (int v = 0; v < 2; v++)
            {
                long row = (2 * i + u) * w + 2 * j + v;
                m[transposed ? col * hw + row : row * cols + col] = (float)(OutputTransform[u, a] * OutputTransform[v, b]);
            }
        }
        return m;
    }

    /// <summary>[9, 16]: the filter transform G g G^T as a product over the 9 taps (row r*3 + q, column a*4 + b).</summary>
    internal static float[] FilterTaps()
    {
        var m = new float[9 * 16];
        for (int a = 0; a < 4; a++) for (int b = 0; b < 4; b++) for (int r = 0; r < 3; r++) for (int q = 0; q < 3; q++)
            m[(r * 3 + q) * 16 + a * 4 + b] = (float)(FilterTransform[a, r] * FilterTransform[b, q]);
        return m;
    }

    private sealed class Rewriter(GraphProto graph, Dictionary<string, long[]> shapes)
    {
        private readonly Dictionary<string, string> _filters = []; // weight -> its U [16, O, C]
        private readonly Dictionary<string, string> _points = [];  // x and side -> its transform points [16, T*N, ch]
        private readonly GraphProducers _graph = new(graph);

        public NodeEmitter Emitter { get; } = new(graph, "winograd");

        /// <summary>y = Conv(x, w): the tiles' transform, the products with U^T, the inverse transform.</summary>
        public List<NodeProto>? Conv(NodeProto node)
        {
            if (Geometry(node, transpose: false) is not { } geometry) return null;
            var (n, c, o, h, w) = geometry;
            var e = Emitter;
            e.Begin();
            long hw = h * w, tiles = hw / 4;
            string products = e.Op("FusedMatMul", node.Output[0] + ".winograd_products", [Points(node.Input[0], n, c, h, w, gradient: false), Filter(node.Input[1], o, c)],
                                   ContribDomain, NodeEmitter.Int("transB", 1));
            string image = e.Op("MatMul", node.Output[0] + ".winograd_image", [Matrix("image_from_tiles", h, w, hw, 16 * tiles, ImageFromTiles), e.Reshaped(products, [16 * tiles, n * o])]);
            Nchw(image, [h, w, n, o], node.Output[0]);
            return e.Nodes;
        }

        /// <summary>dx = ConvTranspose(dy, w), the input gradient of Conv(x, w): the transposed steps in reverse order.</summary>
        public List<NodeProto>? ConvTranspose(NodeProto node)
        {
            if (Geometry(node, transpose: true) is not { } geometry) return null;
            var (n, c, o, h, w) = geometry;
            var e = Emitter;
            e.Begin();
            long hw = h * w, tiles = hw / 4;
            string products = e.Op("MatMul", node.Output[0] + ".winograd_products", [Points(node.Input[0], n, o, h, w, gradient: true), Filter(node.Input[1], o, c)]);
            string image = e.Op("MatMul", node.Output[0] + ".winograd_image", [Matrix("tiles_from_image_transposed", h, w, hw, 16 * tiles, TilesFromImage), e.Reshaped(products, [16 * tiles, n * c])]);
            Nchw(image, [h, w, n, c], node.Output[0]);
            return e.Nodes;
        }

        /// <summary>
        /// prod [9, M, C] = MatMul(dyt, cols) of graphgen's weight gradient of a Conv that lowers here (x [N, C, H, W] unfolded
        /// with pads 1 into the 9 taps of a 3x3 stride-1 kernel, dY [N, M, H, W]): dU = dM^T V per point ([16, M, C]),
        /// then taps [9, 16] x dU. The unfold's index is checked entry by entry, so only that exact geometry is rewritten.
        /// </summary>
        public List<NodeProto>? WeightGradientProduct(NodeProto node)
        {
            if (WeightGradientProductPattern.Match(node, _graph) is not { K: 9 } pattern || pattern.ChannelsLastSource(_graph) is not { } source) return null;
            var (x, before, after, padValue) = source;
            long c = pattern.C, m = pattern.M;
            if (!shapes.TryGetValue(x, out var xs) || xs is not [var n, var c2, var h, var w] || c2 != c || n != pattern.N) return null;
            if (!shapes.TryGetValue(pattern.Dy, out var ys) || !ys.SequenceEqual([n, m, h, w]) || !PaysForWeightGradient(c, m, h, w)) return null;
            if (before != w * c || after != w * c || (padValue.Length > 0 && !IsZero(padValue)) || !IsUnfoldOfPaddedRows(pattern.Gather, n, h, w)) return null;
            var e = Emitter;
            e.Begin();
            string filterGradient = e.Op("FusedMatMul", node.Output[0] + ".winograd_filter_gradient",
                                         [Points(pattern.Dy, n, m, h, w, gradient: true), Points(x, n, c, h, w, gradient: false)], ContribDomain, NodeEmitter.Int("transA", 1));
            string perTap = e.Op("MatMul", node.Output[0] + ".winograd_taps", [FilterTapsConst(), e.Reshaped(filterGradient, [16, m * c])]);
            e.Add(new NodeProto { Name = e.Fresh(node.Name + ".winograd_product"), OpType = "Reshape", Input = { perTap, e.Const([9, m, c]) }, Output = { node.Output[0] } });
            return e.Nodes;
        }

        /// <summary>Whether the product's columns are Gather(rows, Reshape(idx, [9, R])) with rows x [N, H, W] as channels-last
        /// rows under one zero image row above and below each sample ((H+2)*W rows a sample), and idx[r*3 + q, (n, i, j)] the
        /// row of x[n, i + r - 1, j + q - 1], or a zero row where that is outside the image: the unfold of a 3x3 stride-1
        /// kernel over pads of 1 (graphgen builds idx as a sum of broadcast constants, which is evaluated here).</summary>
        private bool IsUnfoldOfPaddedRows(NodeProto gather, long n, long h, long w)
        {
            if (_graph.Of(gather.Input[1], "Reshape") is not { } reshape || _graph.ConstantInt64(reshape.Input[0]) is not { } idx) return false;
            if (idx.Values.Length != 9 * n * h * w) return false;
            long sample = (h + 2) * w, k = 0;
            for (long r = 0; r < 3; r++) for (long q = 0; q < 3; q++) for (long b = 0; b < n; b++) for (long i = 0; i < h; i++) for (long j = 0; j < w; j++)
            {
                long v = idx.Values[k++], y = i + r - 1, x = j + q - 1;
                if (y >= 0 && y < h && x >= 0 && x < w) { if (v != b * sample + (y + 1) * w + x) return false; }
                else if (v < 0 || v >= n * sample || (v % sample / w - 1) is var row && row >= 0 && row < h) return false; // not a zero row
            }
            return true;
        }

        private bool IsZero(string value) => _graph.Initializer(value) is { } t && ZeroMaskLowering.IsZeroScalar(t);

        /// <summary>The 16 transform points of every tile of x [N, ch, H, W] as [16, T*N, ch] (once per x and side): the
        /// forward's B^T d B, or the input gradient's A dy A^T (the inverse transform's adjoint).</summary>
        private string Points(string x, long n, long ch, long h, long w, bool gradient)
        {
            string key = x + (gradient ? "|gradient" : "|forward");
            if (_points.TryGetValue(key, out var done)) return done;
            long hw = h * w, tiles = hw / 4;
            string matrix = gradient ? Matrix("image_from_tiles_transposed", h, w, 16 * tiles, hw, ImageFromTiles) : Matrix("tiles_from_image", h, w, 16 * tiles, hw, TilesFromImage);
            string points = Emitter.Op("MatMul", x + ".winograd_points", [matrix, PositionsMajor(x, hw)]);
            return _points[key] = Emitter.Reshaped(points, [16, tiles * n, ch]);
        }

        /// <summary>(N, C, O, H, W) of a Conv [O, C, 3, 3] on x [N, C, H, W] (or the ConvTranspose that is its input gradient,
        /// on dy [N, O, H, W]) that lowers; null for anything else.</summary>
        private (long N, long C, long O, long H, long W)? Geometry(NodeProto node, bool transpose)
        {
            if (node.Input.Count is < 2 or > 3 || (node.Input.Count == 3 && node.Input[2].Length > 0)) return null; // a bias: not ours
            if (!shapes.TryGetValue(node.Input[1], out var k) || k is not [var o, var c, 3, 3]) return null;
            if (!shapes.TryGetValue(node.Input[0], out var x) || x.Length != 4 || x[1] != (transpose ? o : c)) return null;
            if (NodeAttributes.Int(node, "group", 1) != 1 || NodeAttributes.Str(node, "auto_pad", "NOTSET") != "NOTSET") return null;
            if (!Is(node, "strides", [1, 1]) || !Is(node, "dilations", [1, 1]) || !Is(node, "pads", [1, 1, 1, 1]) || !Is(node, "kernel_shape", [3, 3])) return null;
            if (transpose && (!Is(node, "output_padding", [0, 0]) || node.Attribute.Any(a => a.Name == "output_shape"))) return null;
            return Pays(c, o, x[2], x[3]) ? (x[0], c, o, x[2], x[3]) : null;
        }

        /// <summary>U [16, O, C] of a weight [O, C, 3, 3]: [O*C, 9] x taps [9, 16], one 2-D transpose; once per weight.</summary>
        private string Filter(string weight, long o, long c)
        {
            if (_filters.TryGetValue(weight, out var done)) return done;
            var e = Emitter;
            string perTap = e.Op("MatMul", weight + ".winograd_points", [e.Reshaped(weight, [o * c, 9]), FilterTapsConst()]);
            return _filters[weight] = e.Reshaped(e.Transposed(perTap, [1, 0]), [16, o, c]);
        }

        private string FilterTapsConst() => Emitter.Const("filter_taps", () => HostTensor.Float([9, 16], FilterTaps()));

        private string Matrix(string kind, long h, long w, long rows, long cols, Func<long, long, bool, float[]> build) =>
            Emitter.Const($"{kind} {h}x{w}", () => HostTensor.Float([rows, cols], build(h, w, kind.EndsWith("_transposed", StringComparison.Ordinal))));

        /// <summary>[N, ch, H, W] as [H*W, N*ch]: the transform then multiplies from the left, over whole rows.</summary>
        private string PositionsMajor(string x, long hw) => Emitter.Reshaped(Emitter.Transposed(x, [2, 3, 0, 1]), [hw, -1]);

        /// <summary>[H*W, N*ch] back to [N, ch, H, W], under the replaced node's output name.</summary>
        private void Nchw(string image, long[] hwnc, string output)
        {
            var e = Emitter;
            var t = new NodeProto { Name = e.Fresh(output + ".winograd_nchw"), OpType = "Transpose", Input = { e.Reshaped(image, hwnc) }, Output = { output } };
            t.Attribute.Add(NodeEmitter.Ints("perm", [2, 3, 0, 1]));
            e.Add(t);
        }

        /// <summary>Whether the attribute is <paramref name="expected"/> or absent (ONNX's default there).</summary>
        private static bool Is(NodeProto n, string name, long[] expected) => (NodeAttributes.Ints(n, name) ?? expected).SequenceEqual(expected);
    }
}

using System.Reflection;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.Onnx;

/// <summary>
/// The builder's static shape and type inference against ONNX Runtime: every op method of
/// <see cref="GraphBuilder"/> is built on small inputs, run, and the shape and element type ORT
/// produces must equal the ones the builder inferred. A coverage test keeps the table complete.
/// </summary>
public sealed class ShapeInferenceTests(ITestOutputHelper output)
{
    /// <summary>A graph input; integer inputs take random values in [0, MaxInt).</summary>
    public sealed record In(string Name, DType Type, long[] Shape, long MaxInt = 2);

    /// <summary>One case: the builder method it covers, the inputs, and the op(s) to build.</summary>
    public sealed record Case(string Method, string Detail, In[] Inputs, Func<GraphBuilder, Value[], Value[]> Build)
    {
        public string Name => Detail.Length == 0 ? Method : $"{Method}: {Detail}";
    }

    private static In F(string name, params long[] shape) => new(name, DType.Float, shape);
    private static In I(string name, long max, params long[] shape) => new(name, DType.Int64, shape, max);
    private static In B(string name, params long[] shape) => new(name, DType.Bool, shape);

    private static Case C(string method, string detail, In[] inputs, Func<GraphBuilder, Value[], Value> build) =>
        new(method, detail, inputs, (g, x) => [build(g, x)]);

    private static Case Cn(string method, string detail, In[] inputs, Func<GraphBuilder, Value[], Value[]> build) =>
        new(method, detail, inputs, build);

    private static IEnumerable<Case> Unary()
    {
        var ops = new (string Name, Func<GraphBuilder, Value, Value> Op)[]
        {
            ("Relu", (g, x) => g.Relu(x)), ("Sigmoid", (g, x) => g.Sigmoid(x)), ("Tanh", (g, x) => g.Tanh(x)),
            ("Neg", (g, x) => g.Neg(x)), ("Exp", (g, x) => g.Exp(x)), ("Log", (g, x) => g.Log(x)),
            ("Sqrt", (g, x) => g.Sqrt(x)), ("Abs", (g, x) => g.Abs(x)), ("Sign", (g, x) => g.Sign(x)),
            ("Reciprocal", (g, x) => g.Reciprocal(x)), ("Floor", (g, x) => g.Floor(x)),
            ("Identity", (g, x) => g.Identity(x)), ("StopGradient", (g, x) => g.StopGradient(x)),
        };
        foreach (var (name, op) in ops)
            yield return C(name, "", [F("x", 2, 3, 4)], (g, x) => op(g, x[0]));
        yield return C("Identity", "renamed", [F("x", 5)], (g, x) => g.Identity(x[0], "renamed"));
        yield return C("Not", "", [B("x", 3, 2)], (g, x) => g.Not(x[0]));
    }

    private static IEnumerable<Case> Binary()
    {
        var ops = new (string Name, Func<GraphBuilder, Value, Value, Value> Op)[]
        {
            ("Add", (g, a, b) => g.Add(a, b)), ("Sub", (g, a, b) => g.Sub(a, b)), ("Mul", (g, a, b) => g.Mul(a, b)),
            ("Div", (g, a, b) => g.Div(a, b)), ("Max", (g, a, b) => g.Max(a, b)), ("Min", (g, a, b) => g.Min(a, b)),
            ("Pow", (g, a, b) => g.Pow(a, b)),
            ("Equal", (g, a, b) => g.Equal(a, b)), ("Greater", (g, a, b) => g.Greater(a, b)), ("Less", (g, a, b) => g.Less(a, b)),
            ("GreaterOrEqual", (g, a, b) => g.GreaterOrEqual(a, b)), ("LessOrEqual", (g, a, b) => g.LessOrEqual(a, b)),
        };
        foreach (var (name, op) in ops)
        {
            yield return C(name, "broadcast [2,1,4] with [3,1]", [F("a", 2, 1, 4), F("b", 3, 1)], (g, x) => op(g, x[0], x[1]));
            yield return C(name, "scalar operand", [F("a", 3, 2), F("b")], (g, x) => op(g, x[0], x[1]));
        }
        yield return C("Equal", "int64", [I("a", 3, 4, 1), I("b", 3, 3)], (g, x) => g.Equal(x[0], x[1]));
        yield return C("Pow", "int64 exponent", [F("a", 2, 3), I("b", 3, 3)], (g, x) => g.Pow(x[0], x[1]));
        yield return C("Mod", "int64 broadcast", [I("a", 9, 2, 1, 3), I("b", 4, 4, 1)], (g, x) => g.Mod(x[0], g.Add(x[1], g.Constant(HostTensor.Int64([], [1])))));
        yield return C("Mod", "float (fmod)", [F("a", 2, 3), F("b", 3)], (g, x) => g.Mod(x[0], x[1]));
        yield return C("And", "", [B("a", 2, 3), B("b", 3)], (g, x) => g.And(x[0], x[1]));
        yield return C("Or", "", [B("a", 2, 1), B("b", 1, 3)], (g, x) => g.Or(x[0], x[1]));
        yield return C("Add", "float scalar overload", [F("a", 2, 3)], (g, x) => g.Add(x[0], 1.5f));
        yield return C("Sub", "float scalar overload", [F("a", 2, 3)], (g, x) => g.Sub(x[0], 1.5f));
        yield return C("Mul", "float scalar overload", [F("a", 2, 3)], (g, x) => g.Mul(x[0], 1.5f));
        yield return C("Div", "float scalar overload", [F("a", 2, 3)], (g, x) => g.Div(x[0], 1.5f));
        yield return C("Sum", "three inputs broadcast", [F("a", 2, 1, 3), F("b", 4, 1), F("c", 3)], (g, x) => g.Sum([x[0], x[1], x[2]]));
        yield return C("Where", "broadcast", [B("c", 2, 1), F("x", 3), F("y", 4, 1, 1)], (g, x) => g.Where(x[0], x[1], x[2]));
        yield return C("Clip", "float bounds", [F("x", 2, 5)], (g, x) => g.Clip(x[0], -0.5f, 0.5f));
        yield return C("Clip", "max only", [F("x", 2, 5)], (g, x) => g.Clip(x[0], null, 0.5f));
        yield return C("Clip", "value bounds", [F("x", 3), F("lo"), F("hi")], (g, x) => g.Clip(x[0], x[1], x[2]));
        yield return C("Cast", "float to int64", [F("x", 2, 3)], (g, x) => g.Cast(x[0], DType.Int64));
        yield return C("Cast", "int64 to float", [I("x", 5, 4)], (g, x) => g.Cast(x[0], DType.Float));
        yield return C("Cast", "float to double", [F("x", 4)], (g, x) => g.Cast(x[0], DType.Double));
        yield return C("Cast", "float to bool", [F("x", 2, 2)], (g, x) => g.Cast(x[0], DType.Bool));
    }

    private static IEnumerable<Case> Linear()
    {
        yield return C("MatMul", "2-D", [F("a", 3, 4), F("b", 4, 5)], (g, x) => g.MatMul(x[0], x[1]));
        yield return C("MatMul", "batched broadcast", [F("a", 2, 1, 3, 4), F("b", 5, 4, 6)], (g, x) => g.MatMul(x[0], x[1]));
        yield return C("MatMul", "1-D x 2-D", [F("a", 4), F("b", 4, 5)], (g, x) => g.MatMul(x[0], x[1]));
        yield return C("MatMul", "3-D x 1-D", [F("a", 2, 3, 4), F("b", 4)], (g, x) => g.MatMul(x[0], x[1]));
        yield return C("MatMul", "1-D x 1-D", [F("a", 4), F("b", 4)], (g, x) => g.MatMul(x[0], x[1]));
        yield return C("MatMul", "1-D x batched", [F("a", 4), F("b", 2, 4, 3)], (g, x) => g.MatMul(x[0], x[1]));
        yield return C("Gemm", "plain", [F("a", 3, 4), F("b", 4, 5)], (g, x) => g.Gemm(x[0], x[1]));
        yield return C("Gemm", "transposes, bias row", [F("a", 4, 3), F("b", 5, 4), F("c", 5)], (g, x) => g.Gemm(x[0], x[1], x[2], transA: true, transB: true));
        yield return C("Gemm", "alpha, beta, bias column", [F("a", 3, 4), F("b", 4, 5), F("c", 3, 1)], (g, x) => g.Gemm(x[0], x[1], x[2], alpha: 0.5f, beta: 2f));
    }

    private static IEnumerable<Case> ConvPool()
    {
        yield return C("Conv", "3x3 stride 2 pad 1 with bias", [F("x", 2, 3, 9, 9), F("w", 4, 3, 3, 3), F("b", 4)],
            (g, x) => g.Conv(x[0], x[1], x[2], strides: [2, 2], pads: [1, 1, 1, 1]));
        yield return C("Conv", "groups, asymmetric pads and strides", [F("x", 1, 4, 7, 8), F("w", 6, 2, 3, 2)],
            (g, x) => g.Conv(x[0], x[1], strides: [2, 3], pads: [0, 1, 2, 0], group: 2));
        yield return C("Conv", "depthwise, dilation 2", [F("x", 2, 3, 10, 10), F("w", 3, 1, 3, 3)],
            (g, x) => g.Conv(x[0], x[1], pads: [2, 2, 2, 2], dilations: [2, 2], group: 3));
        yield return C("ConvTranspose", "stride 2 pads output_padding", [F("x", 2, 3, 5, 4), F("w", 3, 2, 3, 3), F("b", 2)],
            (g, x) => g.ConvTranspose(x[0], x[1], x[2], strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 0]));
        yield return C("ConvTranspose", "groups dilation", [F("x", 1, 4, 5, 5), F("w", 4, 3, 2, 3)],
            (g, x) => g.ConvTranspose(x[0], x[1], strides: [1, 2], dilations: [2, 1], group: 2));
        yield return C("MaxPool", "2x2 stride 2", [F("x", 2, 3, 7, 8)], (g, x) => g.MaxPool(x[0], [2, 2], [2, 2]));
        yield return C("MaxPool", "3x3 stride 2 pad 1", [F("x", 2, 3, 9, 9)], (g, x) => g.MaxPool(x[0], [3, 3], [2, 2], [1, 1, 1, 1]));
        yield return C("MaxPool", "ceil mode", [F("x", 1, 2, 7, 6)], (g, x) => g.MaxPool(x[0], [2, 2], [2, 2], ceil: true));
        yield return C("MaxPool", "ceil mode, last window starting in the padding", [F("x", 1, 1, 5, 5)], (g, x) => g.MaxPool(x[0], [3, 3], [3, 3], [1, 1, 1, 1], ceil: true));
        yield return Cn("MaxPoolWithIndices", "", [F("x", 2, 3, 6, 5)], (g, x) => { var (y, i) = g.MaxPoolWithIndices(x[0], [3, 2], [1, 2], [1, 0, 1, 0]); return [y, i]; });
        yield return C("AveragePool", "count_include_pad", [F("x", 2, 3, 7, 7)], (g, x) => g.AveragePool(x[0], [3, 3], [2, 2], [1, 1, 1, 1], countIncludePad: true));
        yield return C("AveragePool", "ceil mode", [F("x", 1, 2, 7, 6)], (g, x) => g.AveragePool(x[0], [2, 3], [2, 2], ceil: true));
        yield return C("AveragePool", "ceil mode, last window starting in the padding", [F("x", 1, 1, 5, 5)], (g, x) => g.AveragePool(x[0], [3, 3], [3, 3], [1, 1, 1, 1], ceil: true));
        yield return C("GlobalAveragePool", "NCHW", [F("x", 2, 3, 5, 4)], (g, x) => g.GlobalAveragePool(x[0]));
        yield return C("GlobalAveragePool", "NCL", [F("x", 2, 3, 5)], (g, x) => g.GlobalAveragePool(x[0]));
        yield return C("BatchNormInference", "NCHW", [F("x", 2, 3, 4, 4), F("s", 3), F("b", 3), F("m", 3), new("v", DType.Float, [3])],
            (g, x) => g.BatchNormInference(x[0], x[1], x[2], x[3], g.Abs(x[4])));
        yield return C("BatchNormInference", "NC", [F("x", 5, 3), F("s", 3), F("b", 3), F("m", 3), F("v", 3)],
            (g, x) => g.BatchNormInference(x[0], x[1], x[2], x[3], g.Abs(x[4])));
    }

    private static IEnumerable<Case> ShapeOps()
    {
        yield return C("Reshape", "0 and -1", [F("x", 2, 3, 4)], (g, x) => g.Reshape(x[0], 0, -1, 2));
        yield return C("Reshape", "to scalar", [F("x", 1, 1)], (g, x) => g.Reshape(x[0]));
        yield return C("Flatten", "axis 2", [F("x", 2, 3, 4, 5)], (g, x) => g.Flatten(x[0], 2));
        yield return C("Flatten", "axis 0", [F("x", 2, 3, 4)], (g, x) => g.Flatten(x[0], 0));
        yield return C("Flatten", "axis = rank", [F("x", 2, 3)], (g, x) => g.Flatten(x[0], 2));
        yield return C("Flatten", "negative axis", [F("x", 2, 3, 4)], (g, x) => g.Flatten(x[0], -1));
        yield return C("Transpose", "", [F("x", 2, 3, 4, 5)], (g, x) => g.Transpose(x[0], 3, 1, 0, 2));
        yield return C("Concat", "negative axis", [F("a", 2, 3, 4), F("b", 2, 3, 1), F("c", 2, 3, 2)], (g, x) => g.Concat([x[0], x[1], x[2]], -1));
        yield return C("Concat", "int64", [I("a", 5, 3), I("b", 5, 2)], (g, x) => g.Concat([x[0], x[1]], 0));
        yield return Cn("Split", "three parts", [F("x", 2, 7, 3)], (g, x) => g.Split(x[0], 1, 2, 4, 1));
        yield return Cn("Split", "negative axis, zero-size part", [F("x", 2, 6)], (g, x) => g.Split(x[0], -1, 3, 0, 3));
        yield return C("Slice", "step 1, clamped end", [F("x", 5, 6, 4)], (g, x) => g.Slice(x[0], [1, 2], [4, 100], [0, 1]));
        yield return C("Slice", "step 2, negative start", [F("x", 5, 6, 4)], (g, x) => g.Slice(x[0], [-5], [long.MaxValue], [1], [2]));
        yield return C("Slice", "negative step to the beginning", [F("x", 5, 6, 4)], (g, x) => g.Slice(x[0], [-1, 3], [long.MinValue, 0], [1, 0], [-2, -1]));
        yield return C("Slice", "empty result", [F("x", 5, 6)], (g, x) => g.Slice(x[0], [4], [2], [0]));
        yield return C("Gather", "axis 0, matrix of indices", [F("x", 5, 3), I("i", 5, 2, 4)], (g, x) => g.Gather(x[0], x[1], 0));
        yield return C("Gather", "axis 1, scalar index", [F("x", 2, 5, 3), I("i", 5)], (g, x) => g.Gather(x[0], x[1], 1));
        yield return C("Gather", "int32 indices, negative axis", [F("x", 2, 5, 3)], (g, x) => g.Gather(x[0], g.Constant(HostTensor.Int32([2], [0, 2])), -1));
        yield return C("GatherElements", "", [F("x", 3, 4), I("i", 4, 3, 6)], (g, x) => g.GatherElements(x[0], x[1], 1));
        yield return C("ScatterElements", "reduction add", [F("x", 3, 4), I("i", 3, 2, 4), F("u", 2, 4)], (g, x) => g.ScatterElements(x[0], x[1], x[2], 0, "add"));
        yield return C("ScatterElements", "no reduction", [F("x", 3, 4), F("u", 3, 1)],
            (g, x) => g.ScatterElements(x[0], g.Constant(HostTensor.Int64([3, 1], [0, 3, 1])), x[1], 1));
        yield return C("ScatterND", "rows, reduction add", [F("x", 5, 3), I("i", 5, 4, 1), F("u", 4, 3)], (g, x) => g.ScatterND(x[0], x[1], x[2], "add"));
        yield return C("ScatterND", "elements", [F("x", 4, 3, 2), F("u", 2)],
            (g, x) => g.ScatterND(x[0], g.Constant(HostTensor.Int64([2, 3], [0, 1, 1, 3, 2, 0])), x[1]));
        yield return C("Squeeze", "given axes", [F("x", 1, 3, 1, 2)], (g, x) => g.Squeeze(x[0], 0, -2));
        yield return C("Squeeze", "no axes squeezes every 1", [F("x", 1, 3, 1, 2)], (g, x) => g.Squeeze(x[0]));
        yield return C("Unsqueeze", "", [F("x", 3, 2)], (g, x) => g.Unsqueeze(x[0], 0, 3, -1));
        yield return C("Expand", "to higher rank", [F("x", 3, 1)], (g, x) => g.Expand(x[0], 2, 3, 4));
        yield return C("Expand", "target dims of 1 keep the input's", [F("x", 2, 1, 4)], (g, x) => g.Expand(x[0], 1, 3, 1));
        yield return C("Tile", "", [F("x", 2, 1, 3)], (g, x) => g.Tile(x[0], 2, 3, 1));
        yield return C("Pad", "positive", [F("x", 2, 3)], (g, x) => g.Pad(x[0], [1, 0, 2, 3], 1f));
        yield return C("Pad", "negative pads crop", [F("x", 2, 5, 4)], (g, x) => g.Pad(x[0], [0, -1, 1, 1, -2, 0]));
        yield return C("Pad", "int64", [I("x", 9, 3)], (g, x) => g.Pad(x[0], [2, 1]));
        yield return C("Zeros", "", [F("x", 1)], (g, x) => g.Add(g.Zeros(DType.Float, 2, 3), x[0]));
        yield return C("Zeros", "int64 alone", [], (g, x) => g.Zeros(DType.Int64, 4));
        yield return C("Filled", "float", [], (g, x) => g.Filled(DType.Float, 2.5, 3, 1, 2));
        yield return C("Filled", "bool", [], (g, x) => g.Filled(DType.Bool, 1, 2, 2));
    }

    private static IEnumerable<Case> Reductions()
    {
        var ops = new (string Name, Func<GraphBuilder, Value, long[]?, bool, Value> Op)[]
        {
            ("ReduceSum", (g, x, a, k) => g.ReduceSum(x, a, k)), ("ReduceMean", (g, x, a, k) => g.ReduceMean(x, a, k)),
            ("ReduceMax", (g, x, a, k) => g.ReduceMax(x, a, k)), ("ReduceMin", (g, x, a, k) => g.ReduceMin(x, a, k)),
            ("ReduceSumSquare", (g, x, a, k) => g.ReduceSumSquare(x, a, k)),
        };
        foreach (var (name, op) in ops)
        {
            yield return C(name, "axes, keepdims", [F("x", 2, 3, 4)], (g, x) => op(g, x[0], [0, -1], true));
            yield return C(name, "axes, no keepdims", [F("x", 2, 3, 4)], (g, x) => op(g, x[0], [1], false));
            yield return C(name, "all axes", [F("x", 2, 3, 4)], (g, x) => op(g, x[0], null, false));
            yield return C(name, "empty axes list means all", [F("x", 2, 3)], (g, x) => op(g, x[0], [], true));
        }
        yield return C("Softmax", "axis 1", [F("x", 2, 3, 4)], (g, x) => g.Softmax(x[0], 1));
        yield return C("LogSoftmax", "", [F("x", 2, 5)], (g, x) => g.LogSoftmax(x[0]));
        yield return Cn("TopK", "last axis", [F("x", 3, 7)], (g, x) => { var (v, i) = g.TopK(x[0], 3); return [v, i]; });
        yield return Cn("TopK", "axis 0, smallest", [F("x", 5, 2)], (g, x) => { var (v, i) = g.TopK(x[0], 2, 0, largest: false); return [v, i]; });
        yield return C("ArgMax", "keepdims", [F("x", 3, 4, 2)], (g, x) => g.ArgMax(x[0], 1, keepDims: true));
        yield return C("ArgMax", "no keepdims", [F("x", 3, 4, 2)], (g, x) => g.ArgMax(x[0], -1));
        yield return C("OneHot", "float", [I("i", 5, 2, 3)], (g, x) => g.OneHot(x[0], 5));
        yield return C("OneHot", "double", [I("i", 4, 3)], (g, x) => g.OneHot(x[0], 4, DType.Double));
        yield return C("CumSum", "", [F("x", 2, 5)], (g, x) => g.CumSum(x[0], 1));
        yield return C("CumSum", "exclusive, negative axis", [F("x", 3, 2)], (g, x) => g.CumSum(x[0], -2, exclusive: true));
    }

    public static readonly IReadOnlyList<Case> Cases =
        Unary().Concat(Binary()).Concat(Linear()).Concat(ConvPool()).Concat(ShapeOps()).Concat(Reductions()).ToList();

    public static TheoryData<string> CaseNames
    {
        get
        {
            var d = new TheoryData<string>();
            foreach (var c in Cases) d.Add(c.Name);
            return d;
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Builder_shape_and_type_match_onnx_runtime(string name)
    {
        var c = Cases.Single(k => k.Name == name);
        var g = new GraphBuilder("shape_" + c.Method);
        var inputs = c.Inputs.Select(i => g.Input(i.Name, i.Type, i.Shape)).ToArray();
        var outs = c.Build(g, inputs);
        for (int k = 0; k < outs.Length; k++) g.Output(outs[k], $"out{k}");

        var rng = new Random(name.GetHashCode(StringComparison.Ordinal) & 0xffff);
        var feeds = c.Inputs.ToDictionary(i => i.Name, i => Feed(i, rng));
        var results = OrtRunner.Run(g, feeds);
        for (int k = 0; k < outs.Length; k++)
        {
            var r = results[$"out{k}"];
            output.WriteLine($"{name}: out{k} builder {outs[k].Type}{Shapes.Str(outs[k].Shape)}, ORT {r.Type}{Shapes.Str(r.Shape)}");
            Assert.True(outs[k].Type == r.Type && outs[k].Shape.SequenceEqual(r.Shape),
                $"{name}: output {k}: builder inferred {outs[k].Type}{Shapes.Str(outs[k].Shape)}, ORT produced {r.Type}{Shapes.Str(r.Shape)}");
        }
    }

    private static HostTensor Feed(In i, Random rng)
    {
        int n = (int)Shapes.Product(i.Shape);
        return i.Type switch
        {
            DType.Float => HostTensor.Float(i.Shape, Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()),
            DType.Int64 => HostTensor.Int64(i.Shape, Enumerable.Range(0, n).Select(_ => rng.NextInt64(i.MaxInt)).ToArray()),
            DType.Bool => HostTensor.Bool(i.Shape, Enumerable.Range(0, n).Select(_ => rng.Next(2) == 1).ToArray()),
            _ => throw new NotSupportedException(i.Type.ToString()),
        };
    }

    // Public methods of GraphBuilder that build values but are not ops (inputs, constants, outputs, helpers).
    private static readonly HashSet<string> NotOps =
    [
        "Input", "Initializer", "Constant", "Scalar", "Int64s", "ScalarI64", "Output", "TryGetConstant",
        "ConstantInts", "InScope", "ToModel", "ToBytes", "Save", "FreshName", "HasName", "AddNode", "AddNode1",
        "ValueInfo", "SliceBounds", "WithGradientRule",
    ];

    [Fact]
    public void Every_builder_op_method_has_a_case()
    {
        var methods = typeof(GraphBuilder).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => !m.IsSpecialName && !NotOps.Contains(m.Name) && ReturnsValues(m.ReturnType))
            .Select(m => m.Name).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToList();
        var covered = Cases.Select(c => c.Method).ToHashSet();
        var missing = methods.Where(m => !covered.Contains(m)).ToList();
        Assert.True(missing.Count == 0, $"builder op methods without a shape-inference case: {string.Join(", ", missing)}");
        var unknown = covered.Where(c => !methods.Contains(c)).ToList();
        Assert.True(unknown.Count == 0, $"cases naming no builder method: {string.Join(", ", unknown)}");
    }

    private static bool ReturnsValues(Type t) =>
        t == typeof(Value) || t == typeof(Value[]) || (t.IsGenericType && t.FullName!.StartsWith("System.ValueTuple", StringComparison.Ordinal) && t.GetGenericArguments().All(a => a == typeof(Value)));

    // ---------------------------------------------------------------- errors

    [Fact]
    public void MatMul_inner_dimension_mismatch_names_the_op_and_the_shapes()
    {
        var g = new GraphBuilder("bad");
        var a = g.Input("a", DType.Float, 2, 3);
        var b = g.Input("b", DType.Float, 4, 5);
        var e = Assert.Throws<ShapeException>(() => g.MatMul(a, b));
        output.WriteLine(e.Message);
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("[2,3]", e.Message);
        Assert.Contains("[4,5]", e.Message);
    }

    public static TheoryData<string> BadCases => new()
    {
        "Add", "Gemm", "Conv", "Concat", "Reshape", "Split", "Squeeze", "Expand", "Transpose", "Where", "GatherElements", "ScatterND", "TopK", "Tile", "Pad",
    };

    [Theory]
    [MemberData(nameof(BadCases))]
    public void Bad_shapes_throw_a_ShapeException_naming_the_op_and_the_shapes(string op)
    {
        var g = new GraphBuilder("bad");
        var x23 = g.Input("x23", DType.Float, 2, 3);
        var x45 = g.Input("x45", DType.Float, 4, 5);
        var img = g.Input("img", DType.Float, 1, 3, 8, 8);
        Action build = op switch
        {
            "Add" => () => g.Add(x23, x45),
            "Gemm" => () => g.Gemm(x23, x45),
            "Conv" => () => g.Conv(img, g.Input("w", DType.Float, 4, 2, 3, 3)),
            "Concat" => () => g.Concat([x23, x45], 0),
            "Reshape" => () => g.Reshape(x23, 4, -1),
            "Split" => () => g.Split(x23, 1, 1, 1),
            "Squeeze" => () => g.Squeeze(x23, 0),
            "Expand" => () => g.Expand(x23, 4, 5),
            "Transpose" => () => g.Transpose(x23, 0, 0),
            "Where" => () => g.Where(g.Input("c", DType.Bool, 4), x23, x23),
            "GatherElements" => () => g.GatherElements(x23, g.Input("i", DType.Int64, 2), 1),
            "ScatterND" => () => g.ScatterND(x45, g.Input("i", DType.Int64, 2, 1), x23),
            "TopK" => () => g.TopK(x23, 4),
            "Tile" => () => g.Tile(x23, 2),
            "Pad" => () => g.Pad(x23, [1, 1]),
            _ => throw new ArgumentException(op),
        };
        var e = Assert.Throws<ShapeException>(build);
        output.WriteLine(e.Message);
        Assert.StartsWith(op, e.Message);
        Assert.Matches(@"\[\d+(,\d+)*\]", e.Message);
    }
}

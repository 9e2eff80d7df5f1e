using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.Support;

/// <summary>
/// Checks graphgen's gradients against central finite differences of an independent
/// double-precision C# reference of the forward computation.
///
/// The scalar loss is sum(forward(inputs) * R) for a fixed random R, so every output element
/// carries a distinct weight. The graph's float gradients (run by ORT) are compared with
/// d loss_ref / d input computed in double by central differences: the bound is on
/// ||g_graph - g_fd|| / ||g_fd|| per differentiated input.
/// </summary>
public static class GradCheck
{
    public sealed record Input(string Name, long[] Shape, double[] Data, bool Differentiate = true, DType Type = DType.Float);

    /// <param name="buildForward">Builds the forward op(s) from the graph inputs; returns the output.</param>
    /// <param name="reference">Double-precision reference: input arrays (same order) -> output array (row-major).</param>
    /// <returns>Worst relative error over the differentiated inputs.</returns>
    public static double Check(string op, IReadOnlyList<Input> inputs,
        Func<GraphBuilder, Value[], Value> buildForward,
        Func<double[][], double[]> reference,
        ITestOutputHelper? output = null, double tolerance = 1e-3, int seed = 7, double epsilon = 1e-4)
    {
        var g = new GraphBuilder($"gradcheck_{op}");
        var values = inputs.Select(i => g.Input(i.Name, i.Type, i.Shape)).ToArray();
        var y = buildForward(g, values);
        var rng = new Random(seed);
        var weights = Enumerable.Range(0, (int)y.ElementCount).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var r = g.Constant(HostTensor.Float(y.Shape, weights.Select(w => (float)w).ToArray()), "R");
        var loss = g.ReduceSum(g.Mul(y, r));
        g.Output(loss, "loss");
        var wrt = values.Where((_, k) => inputs[k].Differentiate).ToArray();
        Differentiator.Differentiate(g, loss, wrt);

        var feeds = inputs.ToDictionary(i => i.Name, i => ToTensor(i));
        var outs = OrtRunner.Run(g, feeds);

        double Loss(double[][] xs)
        {
            var o = reference(xs);
            if (o.Length != weights.Length) throw new InvalidOperationException($"reference output has {o.Length} elements, graph output {weights.Length}");
            double s = 0;
            for (int k = 0; k < o.Length; k++) s += o[k] * weights[k];
            return s;
        }

        // The graph's own loss must agree with the reference (catches a forward mismatch early).
        var baseInputs = inputs.Select(i => (double[])i.Data.Clone()).ToArray();
        double refLoss = Loss(baseInputs), graphLoss = outs["loss"].GetDouble(0);
        double lossErr = Math.Abs(refLoss - graphLoss) / Math.Max(1e-6, Math.Abs(refLoss));
        if (lossErr > 1e-3)
            throw new Xunit.Sdk.XunitException($"{op}: forward mismatch: graph loss {graphLoss}, reference {refLoss}");

        double worst = 0;
        for (int k = 0; k < inputs.Count; k++)
        {
            if (!inputs[k].Differentiate) continue;
            var graphGrad = outs["grad." + inputs[k].Name];
            var fd = new double[inputs[k].Data.Length];
            for (int e = 0; e < fd.Length; e++)
            {
                double saved = baseInputs[k][e];
                baseInputs[k][e] = saved + epsilon; double lp = Loss(baseInputs);
                baseInputs[k][e] = saved - epsilon; double lm = Loss(baseInputs);
                baseInputs[k][e] = saved;
                fd[e] = (lp - lm) / (2 * epsilon);
            }
            double diff = 0, norm = 0;
            for (int e = 0; e < fd.Length; e++)
            {
                double d = graphGrad.GetDouble(e) - fd[e];
                diff += d * d; norm += fd[e] * fd[e];
            }
            double rel = Math.Sqrt(diff) / Math.Max(Math.Sqrt(norm), 1e-12);
            worst = Math.Max(worst, rel);
            output?.WriteLine($"gradcheck {op} d/d{inputs[k].Name}: relative error {rel:E2} (|g| = {Math.Sqrt(norm):G4}, {fd.Length} elements)");
            if (!(rel <= tolerance))
                throw new Xunit.Sdk.XunitException($"{op}: gradient of '{inputs[k].Name}' has relative error {rel:E3} > {tolerance:E1}");
        }
        GradCheckReport.Record(op, worst);
        return worst;
    }

    private static HostTensor ToTensor(Input i) => i.Type switch
    {
        DType.Float => HostTensor.Float(i.Shape, i.Data.Select(v => (float)v).ToArray()),
        DType.Int64 => HostTensor.Int64(i.Shape, i.Data.Select(v => (long)v).ToArray()),
        DType.Bool => HostTensor.Bool(i.Shape, i.Data.Select(v => v != 0).ToArray()),
        _ => throw new NotSupportedException(i.Type.ToString()),
    };

    /// <summary>Random values in [-1, 1), or away from zero / kinks when <paramref name="awayFromZero"/>.</summary>
    public static double[] RandomData(int seed, long[] shape, double scale = 1.0, double awayFromZero = 0)
    {
        var rng = new Random(seed);
        int n = (int)Shapes.Product(shape);
        var d = new double[n];
        for (int i = 0; i < n; i++)
        {
            double v = (rng.NextDouble() * 2 - 1) * scale;
            if (awayFromZero > 0 && Math.Abs(v) < awayFromZero) v = Math.Sign(v == 0 ? 1 : v) * (awayFromZero + Math.Abs(v));
            d[i] = v;
        }
        return d;
    }
}

/// <summary>Collects the worst relative error per op across the run and writes a table at exit.</summary>
public static class GradCheckReport
{
    private static readonly Dictionary<string, double> Worst = [];
    private static readonly Lock Gate = new();

    static GradCheckReport()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Write();
    }

    public static void Record(string op, double err)
    {
        lock (Gate) Worst[op] = Math.Max(Worst.GetValueOrDefault(op), err);
    }

    public static IReadOnlyDictionary<string, double> Snapshot()
    {
        lock (Gate) return new Dictionary<string, double>(Worst);
    }

    private static void Write()
    {
        var snapshot = Snapshot();
        if (snapshot.Count == 0) return;
        var lines = snapshot.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key,-28} {kv.Value:E2}");
        var text = "worst gradient relative error per op (bound 1e-3)\n" + string.Join("\n", lines) + "\n";
        try
        {
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "gradcheck-report.txt"), text);
            Console.Error.Write(text);
        }
        catch (IOException) { }
    }
}

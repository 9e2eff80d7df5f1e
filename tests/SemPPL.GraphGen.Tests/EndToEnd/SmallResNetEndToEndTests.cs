using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.EndToEnd;

/// <summary>
/// A whole small convolutional network differentiated at once: every gradient of the scalar loss checked
/// against central finite differences of an independent double-precision reference, and 50 plain SGD steps
/// run entirely in ONNX Runtime (forward, backward and update in one graph) that must lower the loss 10x.
/// </summary>
public sealed class SmallResNetEndToEndTests(ITestOutputHelper output)
{
    /// <summary>
    /// Input 2x11x7; stem conv 3x3/2 (2->4) + BN + ReLU + MaxPool 3x3/2 p1 (-> 4x3x2); an identity block (4 channels);
    /// a stride-2 block 4->6 with a 1x1/2 projection shortcut (-> 6x2x1); GlobalAveragePool; Gemm 6->4.
    /// </summary>
    public static readonly SmallResNetSpec Spec = new(InChannels: 2, Height: 11, Width: 7, StemChannels: 4, StemKernel: 3, StemStride: 2,
        Blocks: [new(4, 1), new(6, 2)], Classes: 4);

    private const int ParamSeed = 11;
    private const int DataSeed = 8;   // ReLU margin 3.4e-3, MaxPool gap 2.2e-2 with ParamSeed 11
    private const double Tolerance = 1e-3;
    private const double KinkMargin = 1e-3;   // the finite-difference step moves ReLU inputs by ~1e-5

    /// <summary>Both channel-reduction forms (model.channel_reduction): BatchNorm statistics and backward sums.</summary>
    [Theory]
    [InlineData(ChannelReductionForm.Direct)]
    [InlineData(ChannelReductionForm.TwoStage)]
    public void Gradients_of_the_whole_network_match_finite_differences_of_the_double_reference(ChannelReductionForm reductions)
    {
        const int batch = 3;
        var g = new GraphBuilder("small_resnet_gradcheck") { ChannelReduction = reductions };
        var net = SmallResNetGraph.Build(g, Spec, batch);
        g.Output(net.Loss, "loss");
        foreach (var (input, updated) in net.RunningStats) g.Output(updated, "new." + input.Name);
        var wrt = new List<Value> { net.X };
        wrt.AddRange(net.Parameters);
        Differentiator.Differentiate(g, net.Loss, wrt);   // outputs grad.<name>

        var init = Spec.InitialParameters(ParamSeed);
        var x = GradCheck.RandomData(DataSeed, [batch, Spec.InChannels, Spec.Height, Spec.Width], 1.5).Select(v => (double)(float)v).ToArray();
        long[] labels = [2, 0, 3];
        var feeds = Feeds(init, x, labels, batch);
        var outs = OrtRunner.Run(g, feeds);

        // Reference on the same float32-rounded values, in double.
        var p = init.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => (double)v).ToArray());
        var baseRef = SmallResNetReference.Forward(Spec, batch, p, x, labels);
        output.WriteLine($"network: {Spec.Describe()}; batch {batch}");
        output.WriteLine($"loss: graph {outs["loss"].GetDouble(0):R}, reference {baseRef.Loss:R}; kink margins: |ReLU input| >= {baseRef.ReluMargin:E2}, MaxPool top-2 gap >= {baseRef.MaxPoolGap:E2}");
        Assert.True(baseRef.ReluMargin > KinkMargin && baseRef.MaxPoolGap > KinkMargin,
            $"data too close to a kink (ReLU {baseRef.ReluMargin:E2}, MaxPool {baseRef.MaxPoolGap:E2}): pick another seed");
        Assert.True(Math.Abs(outs["loss"].GetDouble(0) - baseRef.Loss) <= 1e-5 * Math.Max(1, Math.Abs(baseRef.Loss)), "forward loss differs from the reference");

        const double eps = 1e-5;
        var arrays = new List<(string Name, double[] Data)> { ("x", x) };
        arrays.AddRange(Spec.Parameters().Select(q => (q.Name, p[q.Name])));
        double worst = 0;
        var failures = new List<string>();
        foreach (var (name, data) in arrays)
        {
            var graphGrad = outs["grad." + name];
            Assert.Equal(data.Length, (int)graphGrad.ElementCount);
            double diff = 0, norm = 0, worstElement = 0;
            for (int e = 0; e < data.Length; e++)
            {
                double saved = data[e];
                data[e] = saved + eps; double lp = SmallResNetReference.Forward(Spec, batch, p, x, labels).Loss;
                data[e] = saved - eps; double lm = SmallResNetReference.Forward(Spec, batch, p, x, labels).Loss;
                data[e] = saved;
                double fd = (lp - lm) / (2 * eps), d = graphGrad.GetDouble(e) - fd;
                diff += d * d; norm += fd * fd;
                worstElement = Math.Max(worstElement, Math.Abs(d));
            }
            double rel = Math.Sqrt(diff) / Math.Max(Math.Sqrt(norm), 1e-12);
            worst = Math.Max(worst, rel);
            GradCheckReport.Record($"SmallResNet d/d{name}", rel);
            output.WriteLine($"d loss/d {name,-22} relative error {rel:E2}  (|g| = {Math.Sqrt(norm):E3}, worst element |diff| {worstElement:E2}, {data.Length} elements)");
            if (!(rel <= Tolerance)) failures.Add($"{name}: {rel:E3}");
        }
        output.WriteLine($"worst relative error over {arrays.Count} tensors: {worst:E2} (bound {Tolerance:E0})");
        Assert.True(failures.Count == 0, "gradients beyond the bound: " + string.Join(", ", failures));
    }

    [Fact]
    public void Fifty_SGD_steps_in_ONNX_Runtime_lower_the_loss_tenfold()
    {
        const int batch = 16, steps = 50;
        const float lr = 0.2f;
        var net = SmallResNetGraph.BuildSgdStep(Spec, batch);
        var (x, labels) = ClassData(batch, seed: 23);
        var state = Feeds(Spec.InitialParameters(ParamSeed), x, labels, batch);
        state["lr"] = HostTensor.Scalar(lr);
        var carried = net.Parameters.Select(v => v.Name).Concat(net.RunningStats.Select(r => r.Input.Name)).ToArray();

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        using var session = new InferenceSession(net.G.ToBytes(), options);
        var losses = new List<double>();
        for (int step = 0; step < steps; step++)
        {
            var outs = Run(session, state);
            losses.Add(outs["loss"].GetDouble(0));
            foreach (var name in carried) state[name] = outs["new." + name];   // outputs fed back as inputs, untouched
        }
        double final = Run(session, state)["loss"].GetDouble(0);   // the loss after the 50th update
        output.WriteLine($"SGD lr {lr}, batch {batch}, {Spec.Classes} classes: loss " +
                         string.Join(" ", losses.Where((_, i) => i % 5 == 0).Select(l => l.ToString("F4"))) + $" ... final {final:F5}");
        output.WriteLine($"loss ratio initial/final = {losses[0] / final:F1}");
        Assert.True(losses.All(double.IsFinite) && double.IsFinite(final));
        Assert.True(final * 10 <= losses[0], $"loss fell from {losses[0]:F4} to {final:F4}: less than 10x");
    }

    private static Dictionary<string, HostTensor> Run(InferenceSession session, Dictionary<string, HostTensor> feeds)
    {
        var names = session.InputNames.ToArray();
        var values = names.Select(n => OrtRunner.ToOrt(feeds[n])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            var outputNames = session.OutputNames.ToArray();
            using var results = session.Run(runOptions, names, values, outputNames);
            return outputNames.Select((n, i) => (n, OrtRunner.FromOrt(results[i]))).ToDictionary(t => t.n, t => t.Item2);
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    private static Dictionary<string, HostTensor> Feeds(Dictionary<string, float[]> init, double[] x, long[] labels, int batch)
    {
        var feeds = new Dictionary<string, HostTensor>
        {
            ["x"] = HostTensor.Float([batch, Spec.InChannels, Spec.Height, Spec.Width], x.Select(v => (float)v).ToArray()),
            ["labels"] = HostTensor.Int64([batch], labels),
        };
        foreach (var q in Spec.Parameters()) feeds[q.Name] = HostTensor.Float(q.Shape, init[q.Name]);
        foreach (var (name, c) in Spec.BatchNorms())
        {
            feeds[name + ".mean"] = HostTensor.Float([c], new float[c]);
            feeds[name + ".var"] = HostTensor.Float([c], Enumerable.Repeat(1f, c).ToArray());
        }
        return feeds;
    }

    /// <summary>A fixed random batch: each class a random prototype image, each image its prototype plus noise of the same scale.</summary>
    private static (double[] X, long[] Labels) ClassData(int batch, int seed)
    {
        long per = Spec.InChannels * Spec.Height * Spec.Width;
        var protos = Enumerable.Range(0, Spec.Classes).Select(k => GradCheck.RandomData(seed + k, [per])).ToArray();
        var noise = GradCheck.RandomData(seed + 100, [batch * per]);
        var labels = Enumerable.Range(0, batch).Select(i => (long)(i * 7 % Spec.Classes)).ToArray();
        var x = new double[batch * per];
        for (int i = 0; i < batch; i++)
            for (long e = 0; e < per; e++) x[i * per + e] = protos[labels[i]][e] + noise[i * per + e];
        return (x, labels);
    }
}

using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;

namespace SemPPL.GraphGen.Tests.Objective;

public sealed class ClassifierLossTests(ITestOutputHelper output)
{
    private const int B = 6, K = 4;
    private static readonly long[] Labels = [0, 3, 1, 1, 2, 3];

    /// <summary>Reference: mean_i ( log sum_k exp(x_ik) - x_i,label ).</summary>
    private static double ReferenceCe(double[] logits, long[] labels, int k)
    {
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double lse = Math.Log(Enumerable.Range(0, k).Sum(j => Math.Exp(logits[i * k + j])));
            total += lse - logits[i * k + labels[i]];
        }
        return total / labels.Length;
    }

    [Fact]
    public void Cross_entropy_and_accuracy_match_the_reference()
    {
        var logits = GradCheck.RandomData(21, [B, K], scale: 3);
        // Make rows 0, 1 and 4 predict their label, and row 2 certainly miss it (1 - its label's margin).
        foreach (int i in new[] { 0, 1, 4 }) logits[i * K + Labels[i]] = 10;
        logits[2 * K + Labels[2]] = -10;
        int hits = 0;
        for (int i = 0; i < B; i++)
        {
            int arg = Enumerable.Range(0, K).MaxBy(j => logits[i * K + j]);
            if (arg == Labels[i]) hits++;
        }

        var g = new GraphBuilder("classifier_test");
        var x = g.Input("logits", DType.Float, B, K);
        var y = g.Input("labels", DType.Int64, B);
        var (loss, acc) = ClassifierLoss.Build(g, x, y);
        g.Output(loss, "loss");
        g.Output(acc, "accuracy");
        var outs = OrtRunner.Run(g, new Dictionary<string, HostTensor>
        {
            ["logits"] = HostTensor.Float([B, K], logits.Select(v => (float)v).ToArray()),
            ["labels"] = HostTensor.Int64([B], Labels),
        });
        double expected = ReferenceCe(logits, Labels, K), got = outs["loss"].GetDouble(0);
        output.WriteLine($"CE graph {got}, reference {expected}; accuracy graph {outs["accuracy"].GetDouble(0)}, reference {hits}/{B}");
        Assert.True(Math.Abs(got - expected) <= 1e-5 * Math.Abs(expected), $"CE {got} vs {expected}");
        Assert.InRange(hits, 3, B - 1);
        Assert.Equal((double)hits / B, outs["accuracy"].GetDouble(0), 6);
        Assert.Empty(outs["loss"].Shape);
    }

    [Fact]
    public void Cross_entropy_gradient_matches_finite_differences()
    {
        GradCheck.Check("ClassifierLoss",
            [
                new("logits", [B, K], GradCheck.RandomData(22, [B, K], scale: 2)),
                new("labels", [B], Labels.Select(v => (double)v).ToArray(), Differentiate: false, Type: DType.Int64),
            ],
            (g, x) => ClassifierLoss.Build(g, x[0], x[1]).Loss,
            xs => [ReferenceCe(xs[0], Labels, K)],
            output);
    }
}

using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Tests.Objective.ObjectiveReference;

namespace SemPPL.GraphGen.Tests.Objective;

public sealed class SemPPLObjectiveTests(ITestOutputHelper output)
{
    private const double Tau = 0.2, C = 0.3, Alpha = 0.2, Lambda = 5.0;
    private static readonly double[] TinyMask = [1, 0, 1, 1, 0];

    /// <summary>Builds the objective on graph inputs; online raw (normalised in-graph) or already unit.</summary>
    private static (GraphBuilder G, ObjectiveOutputs Out) BuildGraph(Problem pr, ObjectiveSettings s, bool normalizeInGraph)
    {
        var g = new GraphBuilder("objective_test");
        var online = g.Input("online", DType.Float, pr.V, pr.B, pr.D);
        var target = g.Input("target", DType.Float, pr.L, pr.B, pr.D);
        var negs = g.Input("negatives", DType.Int64, pr.L, pr.B, pr.NNeg);
        var pos = g.Input("positives", DType.Float, pr.B, pr.NSp, pr.D);
        var mask = g.Input("mask", DType.Float, pr.B);
        var p = normalizeInGraph ? Embeddings.L2Normalize(g, online) : online;
        var o = SemPPLObjective.Build(g, new ObjectiveInputs(p, target, negs, pos, mask), s);
        return (g, o);
    }

    private static Dictionary<string, HostTensor> Feeds(Problem pr, double[] online) => new()
    {
        ["online"] = HostTensor.Float([pr.V, pr.B, pr.D], online.Select(v => (float)v).ToArray()),
        ["target"] = HostTensor.Float([pr.L, pr.B, pr.D], pr.Target.Select(v => (float)v).ToArray()),
        ["negatives"] = HostTensor.Int64([pr.L, pr.B, pr.NNeg], pr.Negatives),
        ["positives"] = HostTensor.Float([pr.B, pr.NSp, pr.D], pr.Positives.Select(v => (float)v).ToArray()),
        ["mask"] = HostTensor.Float([pr.B], pr.Mask.Select(v => (float)v).ToArray()),
    };

    private static Dictionary<string, double> RunParts(Problem pr, ObjectiveSettings s, double[] online, bool normalizeInGraph)
    {
        var (g, o) = BuildGraph(pr, s, normalizeInGraph);
        g.Output(o.Total, "total");
        g.Output(o.Augmentation, "augm");
        g.Output(o.SemanticPositive, "sempos");
        g.Output(o.Invariance, "inv");
        g.Output(o.InvarianceAugmentation, "inv_augm");
        g.Output(o.InvarianceSemanticPositive, "inv_sempos");
        var outs = OrtRunner.Run(g, Feeds(pr, online));
        return outs.ToDictionary(kv => kv.Key, kv => kv.Value.GetDouble(0));
    }

    private void AssertClose(string what, double expected, double actual, double rel = 1e-5, double floor = 1e-3)
    {
        output.WriteLine($"{what}: graph {actual:R}, reference {expected:R}");
        double err = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), floor);
        Assert.True(err <= rel, $"{what}: graph {actual:R} vs reference {expected:R} (relative error {err:E2} > {rel:E1})");
    }

    private static ObjectiveSettings Settings(Problem pr, double alpha = Alpha, double lambda = Lambda) =>
        new(pr.L, pr.S, (float)Tau, (float)C, (float)alpha, (float)lambda);

    [Fact]
    public void Loss_parts_and_total_match_the_reference()
    {
        // L = 2 large + S = 1 small, B = 5 (images 1 and 4 without semantic positives: NaN rows must not leak), D = 4, nNeg = 3, nSp = 2.
        var pr = ObjectiveReference.Random(11, L: 2, S: 1, B: 5, D: 4, nNeg: 3, nSp: 2, TinyMask, nanForMissing: true);
        var unit = Normalize(pr.Online, pr.D);
        var r = Compute(pr, unit, Tau, C, Alpha, Lambda);
        var got = RunParts(pr, Settings(pr), unit, normalizeInGraph: false);
        AssertClose("L_augm", r.Augmentation, got["augm"]);
        AssertClose("L_sempos", r.SemanticPositive, got["sempos"]);
        AssertClose("I_augm", r.InvarianceAugmentation, got["inv_augm"]);
        AssertClose("I_sempos", r.InvarianceSemanticPositive, got["inv_sempos"]);
        AssertClose("I", r.Invariance, got["inv"]);
        AssertClose("total", r.Total, got["total"]);
        // The invariance terms are not trivially zero on this case (the check above would then be vacuous).
        Assert.True(r.InvarianceAugmentation > 1e-3 && r.InvarianceSemanticPositive > 1e-3);
    }

    [Fact]
    public void In_graph_L2Normalize_of_raw_online_vectors_gives_the_same_total()
    {
        var pr = ObjectiveReference.Random(12, L: 2, S: 1, B: 5, D: 4, nNeg: 3, nSp: 2, TinyMask);
        var r = Compute(pr, Normalize(pr.Online, pr.D), Tau, C, Alpha, Lambda);
        var got = RunParts(pr, Settings(pr), pr.Online, normalizeInGraph: true);
        AssertClose("total (raw online, L2Normalize in graph)", r.Total, got["total"]);
    }

    [Fact]
    public void Semantic_terms_are_zero_when_no_image_has_a_positive()
    {
        var pr = ObjectiveReference.Random(13, L: 2, S: 1, B: 5, D: 4, nNeg: 3, nSp: 2, [0, 0, 0, 0, 0], nanForMissing: true);
        var unit = Normalize(pr.Online, pr.D);
        var r = Compute(pr, unit, Tau, C, Alpha, Lambda);
        var got = RunParts(pr, Settings(pr), unit, normalizeInGraph: false);
        Assert.Equal(0.0, got["sempos"]);
        Assert.Equal(0.0, got["inv_sempos"]);
        AssertClose("total", r.Total, got["total"]);
    }

    [Fact]
    public void Alpha_and_lambda_zero_reproduce_plain_InfoNCE_times_c()
    {
        var pr = ObjectiveReference.Random(14, L: 2, S: 1, B: 5, D: 4, nNeg: 3, nSp: 2, TinyMask);
        var unit = Normalize(pr.Online, pr.D);
        double infoNce = InfoNce(pr, unit, Tau);
        var got = RunParts(pr, Settings(pr, alpha: 0, lambda: 0), unit, normalizeInGraph: false);
        AssertClose("total (alpha = lambda = 0) vs c * InfoNCE", C * infoNce, got["total"]);
        // The same inputs with the default weights give a different total: the ablation switch is real.
        var full = RunParts(pr, Settings(pr), unit, normalizeInGraph: false);
        Assert.True(Math.Abs(full["total"] - got["total"]) > 1e-2);
    }

    [Fact]
    public void All_other_images_as_negatives_works()
    {
        // nNeg = B - 1 ("all"), with L = 3 large views (6 ordered pairs) and no small view.
        int B = 6;
        var pr = ObjectiveReference.Random(15, L: 3, S: 0, B: B, D: 5, nNeg: B - 1, nSp: 3, [1, 1, 0, 1, 0, 1]);
        var unit = Normalize(pr.Online, pr.D);
        var r = Compute(pr, unit, Tau, C, Alpha, Lambda);
        var got = RunParts(pr, Settings(pr), unit, normalizeInGraph: false);
        AssertClose("L_augm", r.Augmentation, got["augm"]);
        AssertClose("L_sempos", r.SemanticPositive, got["sempos"]);
        AssertClose("I", r.Invariance, got["inv"]);
        AssertClose("total", r.Total, got["total"]);
    }

    [Fact]
    public void One_large_view_has_no_invariance_pairs()
    {
        // L = 1: no pair of distinct large views, so both KL terms are 0; the contrastive terms still match.
        var pr = ObjectiveReference.Random(18, L: 1, S: 2, B: 5, D: 4, nNeg: 2, nSp: 2, TinyMask);
        var unit = Normalize(pr.Online, pr.D);
        var r = Compute(pr, unit, Tau, C, Alpha, Lambda);
        var got = RunParts(pr, Settings(pr), unit, normalizeInGraph: false);
        Assert.Equal(0.0, got["inv"]);
        AssertClose("L_sempos", r.SemanticPositive, got["sempos"]);
        AssertClose("total", r.Total, got["total"]);
    }

    [Fact]
    public void Node_count_does_not_grow_with_the_batch()
    {
        int Count(int b)
        {
            var mask = Enumerable.Range(0, b).Select(i => (double)(i % 2)).ToArray();
            var pr = ObjectiveReference.Random(16, L: 2, S: 1, B: b, D: 4, nNeg: 3, nSp: 2, mask);
            var (g, _) = BuildGraph(pr, Settings(pr), normalizeInGraph: true);
            return g.Nodes.Count;
        }
        int small = Count(5), large = Count(50);
        output.WriteLine($"objective nodes: B = 5 -> {small}, B = 50 -> {large}");
        Assert.True(small > 10);
        Assert.Equal(small, large);
    }

    [Fact]
    public void Gradient_of_total_wrt_raw_online_matches_finite_differences()
    {
        var pr = ObjectiveReference.Random(17, L: 2, S: 1, B: 5, D: 4, nNeg: 3, nSp: 2, TinyMask);
        var s = Settings(pr);
        // The stop-gradient side of each KL is frozen at the unperturbed point, so central differences
        // of the reference give exactly the stop-gradient derivative the graph computes.
        var frozen = Normalize(pr.Online, pr.D);
        GradCheck.Check("SemPPLObjective",
            [
                new("online", [pr.V, pr.B, pr.D], pr.Online),
                new("target", [pr.L, pr.B, pr.D], pr.Target, Differentiate: false),
                new("negatives", [pr.L, pr.B, pr.NNeg], pr.Negatives.Select(v => (double)v).ToArray(), Differentiate: false, Type: DType.Int64),
                new("positives", [pr.B, pr.NSp, pr.D], pr.Positives, Differentiate: false),
                new("mask", [pr.B], pr.Mask, Differentiate: false),
            ],
            (g, x) => SemPPLObjective.Build(g, new ObjectiveInputs(Embeddings.L2Normalize(g, x[0]), x[1], x[2], x[3], x[4]), s).Total,
            xs => [Compute(pr, Normalize(xs[0], pr.D), Tau, C, Alpha, Lambda, frozen).Total],
            output);
    }
}

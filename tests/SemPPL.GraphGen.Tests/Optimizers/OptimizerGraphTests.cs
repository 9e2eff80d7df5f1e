using SemPPL.GraphGen.Artifacts;
using SemPPL.Config;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using SemPPL.GraphGen.Tests.Support;

namespace SemPPL.GraphGen.Tests.Optimizers;

/// <summary>Optimizer graphs over several steps vs double-precision C# references of the update rules.</summary>
public sealed class OptimizerGraphTests
{
    private static readonly OptimizerParameter[] Params =
    [
        new("conv.weight", [3, 4], false, false),
        new("bn.bias", [4], true, true),
        new("fc.weight", [2, 3], false, false),
    ];

    private const int Steps = 5;
    private static readonly double[] Lrs = [0.5, 0.4, 0.3, 0.2, 0.1];

    // ------------------------------------------------------------------ references (double)

    /// <summary>Per-parameter reference state: weights and named slots.</summary>
    private sealed class RefState
    {
        public Dictionary<string, double[]> W = [];
        public Dictionary<string, Dictionary<string, double[]>> Slots = [];
    }

    private static double Norm(double[] x) => Math.Sqrt(x.Sum(v => v * v));

    private static void RefLars(OptimizerParameter p, double[] w, double[] g, double[] m, double lr, double mom, double wd, double eta)
    {
        var u = (double[])g.Clone();
        if (!p.ExcludeFromWeightDecay) for (int i = 0; i < u.Length; i++) u[i] += wd * w[i];
        if (!p.ExcludeFromLars)
        {
            double wn = Norm(w), un = Norm(u);
            double trust = wn > 0 && un > 0 ? eta * wn / un : 1.0;
            for (int i = 0; i < u.Length; i++) u[i] *= trust;
        }
        for (int i = 0; i < u.Length; i++) { m[i] = mom * m[i] + u[i]; w[i] -= lr * m[i]; }
    }

    private static void RefSgd(OptimizerParameter p, double[] w, double[] g, double[]? b, double lr, double mom, double wd, bool nesterov, bool first)
    {
        // torch.optim.SGD, written as torch does it (first step: buf = d.clone()).
        var d = (double[])g.Clone();
        if (!p.ExcludeFromWeightDecay) for (int i = 0; i < d.Length; i++) d[i] += wd * w[i];
        if (b is not null)
        {
            for (int i = 0; i < d.Length; i++) b[i] = first ? d[i] : mom * b[i] + d[i];
            for (int i = 0; i < d.Length; i++) d[i] = nesterov ? d[i] + mom * b[i] : b[i];
        }
        for (int i = 0; i < d.Length; i++) w[i] -= lr * d[i];
    }

    private static void RefAdamW(OptimizerParameter p, double[] w, double[] g, double[] m, double[] v, double lr, int t, double b1, double b2, double eps, double wd)
    {
        if (!p.ExcludeFromWeightDecay) for (int i = 0; i < w.Length; i++) w[i] *= 1 - lr * wd;
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
        for (int i = 0; i < w.Length; i++)
        {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double denom = Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps;
            w[i] -= lr / bc1 * m[i] / denom;
        }
    }

    // ------------------------------------------------------------------ driver

    private static double[] RandomArray(Random r, long n, double scale) => Enumerable.Range(0, (int)n).Select(_ => scale * (2 * r.NextDouble() - 1)).ToArray();
    private static float[] F(double[] x) => x.Select(v => (float)v).ToArray();
    private static double[] D(float[] x) => x.Select(v => (double)v).ToArray();
    private static long Count(OptimizerParameter p) => p.Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>
    /// Runs the graph for <see cref="Steps"/> steps, feeding each step's outputs back as the next
    /// step's inputs (as the trainer's ping-pong does), and steps the reference alongside.
    /// </summary>
    private static void RunAndCompare(BuiltGraph built, string[] slots, Action<int, OptimizerParameter, double[], double[], Dictionary<string, double[]>> reference,
        OptimizerParameter[]? parameters = null, Func<OptimizerParameter, double[]>? initialW = null, Func<int, OptimizerParameter, double[]>? gradient = null)
    {
        parameters ??= Params;
        var rng = new Random(1234);
        var rs = new RefState();
        foreach (var p in parameters)
        {
            rs.W[p.Name] = initialW?.Invoke(p) ?? RandomArray(rng, Count(p), 1.0);
            rs.Slots[p.Name] = slots.ToDictionary(s => s, _ => new double[Count(p)]);
        }
        // Graph state starts from the float-rounded reference state; the reference continues in double.
        var feeds = new Dictionary<string, HostTensor>();
        foreach (var p in parameters)
        {
            feeds[ArtifactNames.Param(p.Name)] = HostTensor.Float(p.Shape, F(rs.W[p.Name]));
            foreach (var s in slots) feeds[ArtifactNames.State(s, p.Name)] = HostTensor.Float(p.Shape, new float[Count(p)]);
            rs.W[p.Name] = D(F(rs.W[p.Name]));
        }
        for (int step = 1; step <= Steps; step++)
        {
            feeds[ArtifactNames.LearningRate] = HostTensor.Scalar((float)Lrs[step - 1]);
            feeds[ArtifactNames.OptimizerStep] = HostTensor.Scalar(step);
            var grads = new Dictionary<string, double[]>();
            foreach (var p in parameters)
            {
                var gr = D(F(gradient?.Invoke(step, p) ?? RandomArray(rng, Count(p), 0.5)));
                grads[p.Name] = gr;
                feeds[ArtifactNames.Grad(p.Name)] = HostTensor.Float(p.Shape, F(gr));
            }
            var outs = OrtRunner.Run(built.Graph, feeds);
            foreach (var p in parameters)
                reference(step, p, rs.W[p.Name], grads[p.Name], rs.Slots[p.Name]);
            foreach (var p in parameters)
            {
                AssertClose(rs.W[p.Name], outs[ArtifactNames.NewParam(p.Name)].Floats, $"step {step} {p.Name}");
                foreach (var s in slots)
                    AssertClose(rs.Slots[p.Name][s], outs[ArtifactNames.NewState(s, p.Name)].Floats, $"step {step} state {s} {p.Name}");
            }
            // Ping-pong: every state output replaces its input.
            foreach (var pair in built.State) feeds[pair.Input] = outs[pair.Output];
        }
    }

    private static void AssertClose(double[] expected, float[] actual, string what, double rel = 1e-5, double abs = 1e-8)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            Assert.True(err <= rel * Math.Abs(expected[i]) + abs, $"{what}[{i}]: graph {actual[i]:R}, reference {expected[i]:R}, |err| {err:E2}");
        }
    }

    // ------------------------------------------------------------------ tests

    [Fact]
    public void Lars_matches_reference_over_five_steps()
    {
        const double mom = 0.9, wd = 0.05, eta = 0.02;
        var built = LarsOptimizerGraph.Build(Params, mom, wd, eta);
        RunAndCompare(built, [ArtifactNames.MomentumSlot],
            (t, p, w, g, s) => RefLars(p, w, g, s[ArtifactNames.MomentumSlot], Lrs[t - 1], mom, wd, eta));
    }

    [Fact]
    public void Lars_zero_norms_use_trust_one_without_nan()
    {
        // w = 0 (trust 1 on step 1, u = g), and a parameter whose gradient is always 0 with wd = 0 (u = 0).
        OptimizerParameter[] ps = [new("zero_w", [5], false, false), new("zero_g", [4], false, false)];
        var built = LarsOptimizerGraph.Build(ps, 0.9, 0.0, 1e-3);
        RunAndCompare(built, [ArtifactNames.MomentumSlot],
            (t, p, w, g, s) => RefLars(p, w, g, s[ArtifactNames.MomentumSlot], Lrs[t - 1], 0.9, 0.0, 1e-3),
            ps, initialW: p => p.Name == "zero_w" ? new double[Count(p)] : [1, -2, 3, 0.5],
            gradient: (t, p) => p.Name == "zero_g" ? new double[Count(p)] : Enumerable.Range(0, (int)Count(p)).Select(i => 0.1 * (i + t)).ToArray());
    }

    [Fact]
    public void Lars_trust_ratios_and_1d_parameters_are_updated_as_vectors()
    {   // per-node overhead dominates the optimizer on small models: no per-parameter scalar chain, and the 1-D parameters
        // outside LARS concatenated per weight-decay setting (here two groups of two)
        OptimizerParameter[] ps =
        [
            new("conv.weight", [3, 4], false, false), new("bn.weight", [4], true, true), new("fc.weight", [2, 3], false, false),
            new("bn.bias", [4], true, true), new("fc.bias", [2], false, true), new("head.bias", [3], false, true),
        ];
        var built = LarsOptimizerGraph.Build(ps, 0.9, 0.05, 0.02);
        Assert.Single(built.Graph.Nodes, n => n.OpType == "Div");
        Assert.Single(built.Graph.Nodes, n => n.OpType == "Where");
        Assert.Equal(2, built.Graph.Nodes.Count(n => n.OpType == "Sqrt"));
        Assert.Equal(2 + 2 * 3, built.Graph.Nodes.Count(n => n.OpType == "Concat")); // the norms; w, g, m per group
        RunAndCompare(built, [ArtifactNames.MomentumSlot],
            (t, p, w, g, s) => RefLars(p, w, g, s[ArtifactNames.MomentumSlot], Lrs[t - 1], 0.9, 0.05, 0.02), ps);
        // one LARS parameter: no Split
        OptimizerParameter[] one = [new("conv.weight", [3, 4], false, false), new("bn.bias", [4], true, true)];
        RunAndCompare(LarsOptimizerGraph.Build(one, 0.9, 0.05, 0.02), [ArtifactNames.MomentumSlot],
            (t, p, w, g, s) => RefLars(p, w, g, s[ArtifactNames.MomentumSlot], Lrs[t - 1], 0.9, 0.05, 0.02), one);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sgd_matches_torch_semantics_over_five_steps(bool nesterov)
    {
        const double mom = 0.8, wd = 0.1;
        var built = SgdOptimizerGraph.Build(Params, mom, wd, nesterov);
        RunAndCompare(built, [ArtifactNames.MomentumSlot],
            (t, p, w, g, s) => RefSgd(p, w, g, s[ArtifactNames.MomentumSlot], Lrs[t - 1], mom, wd, nesterov, first: t == 1));
    }

    [Fact]
    public void Sgd_without_momentum_has_no_state()
    {
        var built = SgdOptimizerGraph.Build(Params, 0.0, 0.1, false);
        Assert.DoesNotContain(built.Inputs, i => i.Name.StartsWith("state."));
        Assert.Equal(Params.Length, built.State.Count);
        RunAndCompare(built, [], (t, p, w, g, s) => RefSgd(p, w, g, null, Lrs[t - 1], 0, 0.1, false, t == 1));
    }

    [Fact]
    public void AdamW_matches_torch_semantics_over_five_steps()
    {
        const double b1 = 0.9, b2 = 0.99, eps = 1e-6, wd = 0.2;
        var built = AdamWOptimizerGraph.Build(Params, b1, b2, eps, wd);
        RunAndCompare(built, [ArtifactNames.AdamMSlot, ArtifactNames.AdamVSlot],
            (t, p, w, g, s) => RefAdamW(p, w, g, s[ArtifactNames.AdamMSlot], s[ArtifactNames.AdamVSlot], Lrs[t - 1], t, b1, b2, eps, wd));
    }

    [Fact]
    public void Graph_io_names_follow_the_convention()
    {
        var lars = LarsOptimizerGraph.Build(Params, 0.9, 1e-6, 1e-3);
        string[] expectedIn = ["lr", .. Params.SelectMany(p => new[] { $"param.{p.Name}", $"grad.{p.Name}", $"state.momentum.{p.Name}" })];
        Assert.Equal(expectedIn.Order(), lars.Inputs.Select(i => i.Name).Order());
        string[] expectedOut = [.. Params.SelectMany(p => new[] { $"new.param.{p.Name}", $"new.state.momentum.{p.Name}" })];
        Assert.Equal(expectedOut.Order(), lars.Outputs.Select(i => i.Name).Order());
        Assert.Equal(new long[] { 3, 4 }, lars.Output("new.param.conv.weight").Shape);
        Assert.Empty(lars.Input("lr").Shape);
        Assert.Contains(new StatePair("state.momentum.fc.weight", "new.state.momentum.fc.weight"), lars.State);

        var adam = AdamWOptimizerGraph.Build(Params, 0.9, 0.999, 1e-8, 0.01);
        Assert.Equal(DType.Float, adam.Input("step").Type);
        Assert.Contains(adam.Outputs, o => o.Name == "new.state.v.bn.bias");
        Assert.Equal(Params.Length * 3, adam.State.Count);
        Assert.Equal(GraphBuilder.DefaultOpset, adam.Graph.Opset);
    }

    [Fact]
    public void Factory_picks_by_name()
    {
        Assert.Equal("optimizer_lars", OptimizerGraphFactory.Build(new OptimizerConfig { Name = "lars" }, Params).Graph.Name);
        Assert.Equal("optimizer_sgd", OptimizerGraphFactory.Build(new OptimizerConfig { Name = "SGD" }, Params).Graph.Name);
        var adam = OptimizerGraphFactory.Build(new OptimizerConfig { Name = "adamw" }, Params);
        Assert.Equal("optimizer_adamw", adam.Graph.Name);
        Assert.Equal(["m", "v"], OptimizerGraphFactory.StateSlots(new OptimizerConfig { Name = "adamw" }));
        Assert.Throws<ArgumentException>(() => OptimizerGraphFactory.Build(new OptimizerConfig { Name = "adagrad" }, Params));
    }
}

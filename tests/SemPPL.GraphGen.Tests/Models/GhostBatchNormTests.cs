using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using static SemPPL.GraphGen.Tests.Models.ModelTestUtil;

namespace SemPPL.GraphGen.Tests.Models;

/// <summary>BatchNorm group scopes (ghost BatchNorm, training.bn_groups): each group normalised on its own statistics.</summary>
public sealed class GhostBatchNormTests
{
    [Fact]
    public void Two_groups_equal_two_separate_batchnorms_and_average_their_running_statistics()
    {
        // 4 unlabelled then 2 labelled images: group 0 = rows 0, 1, 4; group 1 = rows 2, 3, 5.
        var g = new GraphBuilder("ghost");
        var ctx = new ModelContext(g, "", ModelMode.Training, bnMomentum: 0.8f);
        var x = g.Input("x", DType.Float, 6, 3, 2, 2);
        var y = new GhostBatch(2, 4, 2).Apply(ctx, x, b => [ctx.BatchNorm(b, "bn")])[0];
        g.Output(y, "y");
        foreach (var b in ctx.UpdatedBufferNames) g.Output(ctx.UpdatedBuffers[b], "new." + b);

        // The reference: two separate contexts, one BatchNorm each on its group's rows.
        var r = new GraphBuilder("separate");
        var rx = r.Input("x", DType.Float, 6, 3, 2, 2);
        long[][] rows = [[0, 1, 4], [2, 3, 5]];
        for (int j = 0; j < 2; j++)
        {
            var c = new ModelContext(r, $"g{j}.", ModelMode.Training, bnMomentum: 0.8f);
            var part = r.Concat(rows[j].Select(i => r.Slice(rx, [i], [i + 1], [0])).ToList(), 0);
            r.Output(c.BatchNorm(part, "bn"), $"y{j}");
            foreach (var b in c.UpdatedBufferNames) r.Output(c.UpdatedBuffers[b], $"new{j}.{b}");
        }

        var feeds = Feeds(ctx);
        RandomizeBatchNorm(ctx, feeds, seed: 4);
        feeds["x"] = RandomImages(7, 6, 3, 2, 2);
        var separateFeeds = new Dictionary<string, HostTensor> { ["x"] = feeds["x"] };
        foreach (var (name, value) in feeds.Where(f => f.Key != "x"))
            for (int j = 0; j < 2; j++) separateFeeds[$"g{j}.{name}"] = value;

        var ghost = OrtRunner.Run(g, feeds);
        var separate = OrtRunner.Run(r, separateFeeds);
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
            {
                long row = rows[j][k];
                var expected = separate[$"y{j}"].Floats.AsSpan(k * 12, 12).ToArray();
                var actual = ghost["y"].Floats.AsSpan((int)row * 12, 12).ToArray();
                Assert.True(MaxAbsDiff(actual, expected.Select(v => (double)v).ToArray()) < 1e-6, $"row {row}");
            }
        foreach (var b in new[] { "bn.running_mean", "bn.running_var" })
        {
            var mean = separate[$"new0.{b}"].Floats.Zip(separate[$"new1.{b}"].Floats, (p, q) => ((double)p + q) / 2).ToArray();
            Assert.True(MaxAbsDiff(ghost["new." + b].Floats, mean) < 1e-6, b);
            Assert.True(MaxAbsDiff(ghost["new." + b].Floats, separate[$"new0.{b}"].Floats.Select(v => (double)v).ToArray()) > 1e-3, b); // the groups differ
        }
    }

    [Fact]
    public void A_forward_after_a_group_scope_chains_from_the_groups_mean_and_one_group_adds_no_nodes()
    {
        var g = new GraphBuilder("chain");
        var ctx = new ModelContext(g, "", ModelMode.Training);
        var x = g.Input("x", DType.Float, 4, 3);
        new GhostBatch(2, 2, 2).Apply(ctx, x, b => [ctx.BatchNorm(b, "bn")]);
        var averaged = ctx.UpdatedBuffers["bn.running_mean"];
        Assert.Equal("Mul", averaged.Producer!.OpType); // (u0 + u1) * 1/2
        ctx.BatchNorm(x, "bn");
        Assert.NotSame(averaged, ctx.UpdatedBuffers["bn.running_mean"]);
        Assert.Equal(2, ctx.UpdatedBufferNames.Count);

        var plain = new GraphBuilder("plain");
        var pc = new ModelContext(plain, "", ModelMode.Training);
        pc.BatchNorm(plain.Input("x", DType.Float, 4, 3), "bn");
        var single = new GraphBuilder("plain");
        var sc = new ModelContext(single, "", ModelMode.Training);
        new GhostBatch(1, 2, 2).Apply(sc, single.Input("x", DType.Float, 4, 3), b => [sc.BatchNorm(b, "bn")]);
        Assert.Equal(plain.ToBytes(), single.ToBytes());
        Assert.Throws<InvalidOperationException>(() => ctx.InBatchNormGroups(2, _ => ctx.InBatchNormGroups(2, _ => 0)));
    }
}

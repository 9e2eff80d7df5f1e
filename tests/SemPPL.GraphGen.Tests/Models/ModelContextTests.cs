using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using static SemPPL.GraphGen.Tests.Models.ModelTestUtil;

namespace SemPPL.GraphGen.Tests.Models;

public sealed class ModelContextTests
{
    [Fact]
    public void Parameters_are_shared_and_checked()
    {
        var g = new GraphBuilder("ctx");
        var ctx = new ModelContext(g, "target.", ModelMode.Training);
        var a = ctx.InScope("encoder.", () => ctx.Parameter("w", [3, 4], ParameterKind.LinearWeight));
        var b = ctx.InScope("encoder.", () => ctx.Parameter("w", [3, 4], ParameterKind.LinearWeight));
        Assert.Same(a, b);
        Assert.Equal("target.encoder.w", a.Name);
        Assert.Single(ctx.Parameters);
        Assert.Equal("encoder.w", ctx.Parameters[0].Name);
        Assert.Same(a, ctx.ParameterValue("encoder.w"));
        Assert.Throws<ArgumentException>(() => ctx.InScope("encoder.", () => ctx.Parameter("w", [4, 3], ParameterKind.LinearWeight)));
        Assert.Throws<ArgumentException>(() => ctx.InScope("encoder.", () => ctx.Parameter("w", [3, 4], ParameterKind.Bias)));
        Assert.Throws<ArgumentException>(() => ctx.Parameter("z", [0, 4], ParameterKind.LinearWeight));
    }

    [Fact]
    public void Buffers_chain_in_training_and_stay_inputs_in_inference()
    {
        var g = new GraphBuilder("bn");
        var train = new ModelContext(g, "online.", ModelMode.Training);
        var x = g.Input("x", DType.Float, 4, 3);
        train.BatchNorm(x, "bn");
        var afterFirst = train.UpdatedBuffers["bn.running_mean"];
        train.BatchNorm(x, "bn");
        var afterSecond = train.UpdatedBuffers["bn.running_mean"];
        Assert.NotSame(afterFirst, afterSecond);
        Assert.NotSame(train.BufferInput("bn.running_mean"), afterFirst);
        Assert.Equal(2, train.Buffers.Count);
        Assert.Equal(new[] { "bn.running_mean", "bn.running_var" }, train.UpdatedBufferNames);
        // The second update reads the first: afterFirst is an input of the node chain of afterSecond.
        Assert.True(DependsOn(afterSecond, afterFirst));

        var infer = ModelContext.For(new GraphBuilder("i"), "", ModelMode.Inference, new SemPPL.Config.ModelConfig { BnEpsilon = 1e-3, BnMomentum = 0.99 });
        Assert.Equal(1e-3f, infer.BnEpsilon);
        Assert.Equal(0.99f, infer.BnMomentum);
        var xi = infer.Graph.Input("x", DType.Float, 4, 3);
        infer.BatchNorm(xi, "bn");
        Assert.Empty(infer.UpdatedBuffers);
        Assert.Equal(2, infer.Buffers.Count);
    }

    private static bool DependsOn(Value v, Value target)
    {
        var seen = new HashSet<Value>();
        var stack = new Stack<Value>([v]);
        while (stack.Count > 0)
        {
            var cur = stack.Pop();
            if (cur == target) return true;
            if (!seen.Add(cur) || cur.Producer is null) continue;
            foreach (var i in cur.Producer.Inputs) if (i is not null) stack.Push(i);
        }
        return false;
    }

    [Fact]
    public void Dynamic_batch_inference_graph_with_heads_runs()
    {
        var g = new GraphBuilder("eval");
        var ctx = new ModelContext(g, "", ModelMode.Inference);
        var net = BackboneRegistry.Create(ModelConfigFor("sk_resnet18", 0.125, "small"), 1);
        var f = net.Forward(ctx, g.Input("images", DType.Float, -1, 1, 12, 12));
        Assert.Equal(new long[] { -1, 64 }, f.Shape);
        var z = Mlp.Forward(ctx, f, 16, 8, "projector");
        var logits = LinearClassifier.Forward(ctx, f, 5);
        g.Output(z, "z");
        g.Output(logits, "logits");
        foreach (int batch in new[] { 1, 3 })
        {
            var feeds = Feeds(ctx);
            feeds["images"] = RandomImages(batch, batch, 1, 12, 12);
            var outs = OrtRunner.Run(g, feeds);
            Assert.Equal(new long[] { batch, 8 }, outs["z"].Shape);
            Assert.Equal(new long[] { batch, 5 }, outs["logits"].Shape);
            Assert.All(outs["logits"].Floats, v => Assert.True(float.IsFinite(v)));
        }
    }
}

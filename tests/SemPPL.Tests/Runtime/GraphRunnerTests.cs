using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

public class GraphRunnerTests
{
    private static SessionFactory Cpu() => new(ExecutionDevice.Cpu, new SessionSettings { IntraOpThreads = 1 });

    [Fact]
    public void Counter_with_ping_pong_accumulates_and_reuses_buffers()
    {
        using var f = Cpu();
        using var runner = new GraphRunner(f, TestGraphs.Counter(), "counter");
        using var state = new PingPongState(f);
        state.Add("counter", HostTensor.Float([4], [0, 10, 20, 30]));
        using var x = DeviceTensor.AllocateHost(f, "x", DType.Float, 4);
        using var pp = PingPongBinding.For(runner, state)
            .ReadCurrent("state", "counter")
            .WriteNext("state_out", "counter")
            .Input("x", x)
            .Build();

        var (a, b) = state.Pair("counter");
        var doubled = pp.Output("doubled");
        Assert.Same(doubled, pp[0].Output("doubled"));
        Assert.Same(doubled, pp[1].Output("doubled"));
        Assert.Same(a, pp[0].Inputs["state"]);
        Assert.Same(b, pp[0].Outputs["state_out"]);
        Assert.Same(b, pp[1].Inputs["state"]);
        Assert.Same(a, pp[1].Outputs["state_out"]);
        var handles = new HashSet<object>(ReferenceEqualityComparer.Instance) { a.Value, b.Value, doubled.Value, x.Value };

        for (int step = 0; step < 5; step++)
        {
            x.HostSpan<float>().Fill(step + 1); // per-step input written in place
            pp.RunAndFlip();
            Assert.Same(step % 2 == 0 ? b : a, state.Current("counter"));
            // Every value the graph touched is one of the four buffers made before the loop.
            foreach (var t in pp[step % 2].Inputs.Values.Concat(pp[step % 2].Outputs.Values))
                Assert.Contains(t.Value, handles);
        }
        // 1 + 2 + 3 + 4 + 5 = 15 added to each element.
        Assert.Equal([15f, 25, 35, 45], state.Current("counter").Download().Floats);
        Assert.Equal([30f, 50, 70, 90], doubled.Download().Floats);
        Assert.Equal(5, state.Step);
        Assert.Same(b, state.Current("counter")); // odd number of steps: B is current
    }

    [Fact]
    public void Run_with_a_prebuilt_binding_allocates_nothing_managed()
    {
        using var f = Cpu();
        using var runner = new GraphRunner(f, TestGraphs.Counter(), "counter");
        using var state = new PingPongState(f);
        state.Add("counter", HostTensor.Float([4], [0, 0, 0, 0]));
        using var x = DeviceTensor.FromHost(f, "x", HostTensor.Float([4], [1, 1, 1, 1]));
        using var pp = PingPongBinding.For(runner, state).ReadCurrent("state", "counter").WriteNext("state_out", "counter").Input("x", x).Build();
        for (int i = 0; i < 10; i++) pp.RunAndFlip(); // warm up (JIT, arena)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) pp.RunAndFlip();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1024, $"100 runs allocated {allocated} managed bytes");
        Assert.Equal(110f, state.Current("counter").Download().Floats[0]);
    }

    [Fact]
    public void Plain_binding_allocates_missing_outputs_from_metadata()
    {
        using var f = Cpu();
        using var runner = new GraphRunner(f, TestGraphs.Counter(), "counter");
        Assert.Equal(["state", "x"], runner.InputNames.OrderBy(n => n));
        Assert.Equal([4L], runner.Outputs["doubled"].Shape);
        using var s = DeviceTensor.FromHost(f, "s", HostTensor.Float([4], [1, 2, 3, 4]));
        using var x = DeviceTensor.FromHost(f, "x", HostTensor.Float([4], [1, 1, 1, 1]));
        using var binding = runner.Bind(new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = x });
        var outTensor = binding.Output("state_out");
        binding.Run();
        binding.Run();
        Assert.Same(outTensor, binding.Output("state_out"));
        Assert.Equal([2f, 3, 4, 5], outTensor.Download().Floats);
        Assert.Equal([4f, 6, 8, 10], binding.Output("doubled").Download().Floats);
    }

    [Fact]
    public void Binding_mistakes_name_graph_input_and_shapes()
    {
        using var f = Cpu();
        using var runner = new GraphRunner(f, TestGraphs.Counter(), "counter");
        using var s = DeviceTensor.Allocate(f, "s", DType.Float, 4);
        using var x = DeviceTensor.Allocate(f, "x", DType.Float, 4);
        using var wrong = DeviceTensor.Allocate(f, "wrong", DType.Float, 2, 2);
        using var ints = DeviceTensor.Allocate(f, "ints", DType.Int64, 4);

        var e = Assert.Throws<ArgumentException>(() => runner.Bind(new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = x, ["y"] = x }));
        Assert.Contains("graph 'counter'", e.Message);
        Assert.Contains("'y'", e.Message);
        Assert.Contains("inputs: ", e.Message);

        e = Assert.Throws<ArgumentException>(() => runner.Bind(new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = wrong }));
        Assert.Contains("graph 'counter': input 'x' expects float [4] but tensor 'wrong' is float [2,2]", e.Message);

        e = Assert.Throws<ArgumentException>(() => runner.Bind(new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = ints }));
        Assert.Contains("expects float [4] but tensor 'ints' is int64 [4]", e.Message);

        e = Assert.Throws<ArgumentException>(() => runner.Bind(new Dictionary<string, DeviceTensor> { ["state"] = s }));
        Assert.Contains("graph 'counter': input 'x' not bound", e.Message);

        e = Assert.Throws<ArgumentException>(() => runner.Bind(
            new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = x },
            new Dictionary<string, DeviceTensor> { ["state_out"] = s }));
        Assert.Contains("same tensor", e.Message);
        Assert.Contains("PingPongBinding", e.Message);

        e = Assert.Throws<ArgumentException>(() => runner.Bind(
            new Dictionary<string, DeviceTensor> { ["state"] = s, ["x"] = x },
            new Dictionary<string, DeviceTensor> { ["nope"] = wrong }));
        Assert.Contains("graph 'counter' has no output named 'nope'", e.Message);

        using var state = new PingPongState(f);
        state.Add("counter", HostTensor.Float([2, 2], [0, 0, 0, 0]));
        e = Assert.Throws<ArgumentException>(() => PingPongBinding.For(runner, state).ReadCurrent("state", "counter").WriteNext("state_out", "counter").Input("x", x).Build());
        Assert.Contains("input 'state' expects float [4] but tensor 'counter#A' is float [2,2]", e.Message);
    }

    [Fact]
    public void Loading_a_broken_model_names_the_graph()
    {
        using var f = Cpu();
        var e = Assert.Throws<InvalidOperationException>(() => new GraphRunner(f, [1, 2, 3], "broken"));
        Assert.Contains("graph 'broken'", e.Message);
    }
}

public class PingPongStateTests
{
    [Fact]
    public void Restore_sets_the_parity_before_uploading_into_current()
    {
        using var f = new SessionFactory(ExecutionDevice.Cpu);
        using var state = new PingPongState(f);
        state.Add("p", HostTensor.Float([2], [1, 2]));
        var saved = state.Download();
        state.Restore(7, [("p", HostTensor.Float([2], [5, 6]))]);
        Assert.Equal(7, state.Step);
        Assert.Same(state.Pair("p").B, state.Current("p"));
        Assert.Equal([5f, 6], state.Current("p").Download().Floats);
        Assert.Same(state.Pair("p").A, state.Next("p"));
        Assert.Equal([1f, 2], saved[0].Tensor.Floats);
        Assert.Throws<ArgumentException>(() => state.Add("q", DeviceTensor.Allocate(f, "q1", DType.Float, 2), DeviceTensor.Allocate(f, "q2", DType.Float, 3)));
    }
}

using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Tests.Artifacts;

/// <summary>The contract a graph carries into manifest.json: every input and output described, and the step's links checked.</summary>
public class GraphContractTests
{
    [Fact]
    public void A_graph_cannot_leave_an_input_or_output_without_a_kind()
    {
        var g = new GraphBuilder("t");
        g.Output(g.Relu(g.Input("x", DType.Float, 2)), "y");
        var e = Assert.Throws<InvalidOperationException>(() => new ContractBuilder().HostFed("x", HostRole.Images).Finish(g));
        Assert.Contains("'y'", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => new ContractBuilder().HostFed("x", HostRole.Images).HostResult("y", HostRole.Loss).Passed("z").Finish(g));
        Assert.Contains("'z'", e.Message);
        var c = new ContractBuilder().HostFed("x", HostRole.Images).HostResult("y", HostRole.Embedding).Finish(g);
        Assert.Equal(new long[] { 2 }, c.Output("y").Shape);
        Assert.Equal("float", c.Input("x").DType);
    }

    [Fact]
    public void In_step_order_a_state_read_after_its_write_reads_the_updated_value()
    {
        // The queue graph writes the queue; the pseudo-label graph, after it, reads it; the queue graph itself reads the old value.
        var queue = QueueGraph.Build(8, 4, 2).Contract;
        var producer = new GraphContract([], [Io("t.u", IoKind.Passed, "t.u"), Io("p.e", IoKind.Passed, "push.embeddings"), Io("p.l", IoKind.Passed, "push.labels")]);
        var pseudo = PseudoLabelGraph.Build(1, 2, 1, 8, 4, 1, 1, 3).Contract;
        pseudo = pseudo with { Inputs = pseudo.Inputs.Select(i => i.Name == ArtifactNames.TargetUnlabelled ? i with { Tensor = "t.u" } : i).ToList() };
        var step = GraphContract.InStepOrder([producer, queue, pseudo]);

        Assert.All(step[1].Inputs.Where(i => i.Kind == IoKind.StateRead), i => Assert.False(i.ReadsUpdated));
        Assert.All(step[2].Inputs.Where(i => i.Kind == IoKind.StateRead), i => Assert.True(i.ReadsUpdated, i.Name));
        Assert.Contains(new StatePair(ArtifactNames.QueueCount, ArtifactNames.New(ArtifactNames.QueueCount)), step[1].StatePairs);
    }

    [Fact]
    public void A_step_refuses_a_state_written_twice_and_a_passed_value_read_before_it_exists()
    {
        var writer = new GraphContract([], [Io("w", IoKind.StateWritten, "s")]);
        var e = Assert.Throws<InvalidOperationException>(() => GraphContract.InStepOrder([writer, writer]));
        Assert.Contains("'s'", e.Message);

        var reader = new GraphContract([Io("in", IoKind.Passed, "v")], []);
        var producer = new GraphContract([], [Io("out", IoKind.Passed, "v")]);
        e = Assert.Throws<InvalidOperationException>(() => GraphContract.InStepOrder([reader, producer]));
        Assert.Contains("'v'", e.Message);
        Assert.Equal(2, GraphContract.InStepOrder([producer, reader]).Count);
    }

    [Fact]
    public void A_step_refuses_a_gathered_or_summed_input_whose_value_no_earlier_graph_passes()
    {
        var producer = new GraphContract([], [Io("out", IoKind.Passed, "v")]);
        foreach (var kind in new[] { IoKind.Gathered, IoKind.Summed })
        {
            var reader = new GraphContract([Io("in", kind, "v")], []);
            var e = Assert.Throws<InvalidOperationException>(() => GraphContract.InStepOrder([reader, producer]));
            Assert.Contains("'v'", e.Message);
            e = Assert.Throws<InvalidOperationException>(() => GraphContract.InStepOrder([producer, new GraphContract([Io("in", kind, "w")], [])]));
            Assert.Contains("'w'", e.Message);
            Assert.Equal(2, GraphContract.InStepOrder([producer, reader]).Count);
        }
    }

    private static GraphIo Io(string name, IoKind kind, string tensor) => new(name, "float", [1]) { Kind = kind, Tensor = tensor };
}

using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Artifacts;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Optimizers;

/// <summary>Shared plumbing of the optimizer graphs: inputs per parameter, outputs, and the graph's contract
/// (parameter n is state tensor n, each slot is state tensor state.&lt;slot&gt;.n, gradients arrive from the train graph).</summary>
internal sealed class OptimizerGraphContext
{
    private readonly ContractBuilder _contract = new();

    public OptimizerGraphContext(string graphName, IReadOnlyList<OptimizerParameter> parameters, bool withStep)
    {
        if (parameters.Count == 0) throw new ArgumentException("an optimizer graph needs at least one parameter");
        var dup = parameters.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"parameter '{dup.Key}' is listed twice");
        G = new GraphBuilder(graphName);
        Lr = G.Input(LearningRate, DType.Float);
        _contract.HostFed(LearningRate, HostRole.LearningRate);
        if (withStep)
        {
            Step = G.Input(OptimizerStep, DType.Float);
            _contract.HostFed(OptimizerStep, HostRole.OptimizerStep);
        }
    }

    public GraphBuilder G { get; }
    public Value Lr { get; }
    public Value? Step { get; }

    public (Value W, Value Grad) ParamAndGrad(OptimizerParameter p)
    {
        var w = G.Input(Param(p.Name), DType.Float, p.Shape);
        var g = G.Input(Grad(p.Name), DType.Float, p.Shape);
        _contract.StateRead(Param(p.Name), p.Name).Passed(Grad(p.Name));
        return (w, g);
    }

    public Value StateInput(string slot, OptimizerParameter p)
    {
        _contract.StateRead(State(slot, p.Name));
        return G.Input(State(slot, p.Name), DType.Float, p.Shape);
    }

    public void OutputParam(OptimizerParameter p, Value w)
    {
        G.Output(w, NewParam(p.Name));
        _contract.StateWritten(NewParam(p.Name), p.Name, replaces: Param(p.Name));
    }

    public void OutputState(string slot, OptimizerParameter p, Value s)
    {
        G.Output(s, NewState(slot, p.Name));
        _contract.StateWritten(NewState(slot, p.Name), State(slot, p.Name), replaces: State(slot, p.Name));
    }

    public BuiltGraph Finish() => new(G, _contract.Finish(G));
}

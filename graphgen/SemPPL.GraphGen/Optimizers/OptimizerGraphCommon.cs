using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Optimizers.OptimizerNames;

namespace SemPPL.GraphGen.Optimizers;

/// <summary>Shared plumbing of the optimizer graphs: inputs per parameter, outputs, state pairs.</summary>
internal sealed class OptimizerGraphContext
{
    private readonly List<StatePair> _state = [];

    public OptimizerGraphContext(string graphName, IReadOnlyList<OptimizerParameter> parameters, bool withStep)
    {
        if (parameters.Count == 0) throw new ArgumentException("an optimizer graph needs at least one parameter");
        var dup = parameters.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"parameter '{dup.Key}' is listed twice");
        G = new GraphBuilder(graphName);
        Lr = G.Input(LearningRate, DType.Float);
        Step = withStep ? G.Input(OptimizerNames.Step, DType.Float) : null;
    }

    public GraphBuilder G { get; }
    public Value Lr { get; }
    public Value? Step { get; }

    public (Value W, Value Grad) ParamAndGrad(OptimizerParameter p)
    {
        var w = G.Input(Param(p.Name), DType.Float, p.Shape);
        var g = G.Input(Grad(p.Name), DType.Float, p.Shape);
        return (w, g);
    }

    public Value StateInput(string slot, OptimizerParameter p) => G.Input(State(slot, p.Name), DType.Float, p.Shape);

    public void OutputParam(OptimizerParameter p, Value w)
    {
        G.Output(w, NewParam(p.Name));
        _state.Add(new StatePair(Param(p.Name), NewParam(p.Name)));
    }

    public void OutputState(string slot, OptimizerParameter p, Value s)
    {
        G.Output(s, NewState(slot, p.Name));
        _state.Add(new StatePair(State(slot, p.Name), NewState(slot, p.Name)));
    }

    /// <summary>Sum of squares then sqrt: the L2 norm of a whole tensor, as a scalar.</summary>
    public Value Norm(Value x) => G.Sqrt(G.ReduceSum(G.Mul(x, x)));

    public BuiltGraph Finish() => new(G, _state.ToArray());
}

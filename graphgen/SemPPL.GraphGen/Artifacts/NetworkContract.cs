using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>The contract of a network copy inside a graph: its parameters and BatchNorm buffers are state tensors of their graph names.</summary>
public static class NetworkContract
{
    /// <summary>Every parameter and buffer input of <paramref name="ctx"/> reads the state tensor of the same name.</summary>
    public static ContractBuilder ReadsNetwork(this ContractBuilder c, ModelContext ctx)
    {
        foreach (var p in ctx.Parameters) c.StateRead(ctx.GraphName(p.Name));
        foreach (var b in ctx.Buffers) c.StateRead(ctx.GraphName(b.Name));
        return c;
    }

    /// <summary>Outputs the updated BatchNorm running statistics (Training mode) as the new values of their state tensors.</summary>
    public static ContractBuilder WritesUpdatedBuffers(this ContractBuilder c, ModelContext ctx)
    {
        foreach (var name in ctx.UpdatedBufferNames)
        {
            string state = ctx.GraphName(name);
            ctx.Graph.Output(ctx.UpdatedBuffers[name], New(state));
            c.StateWritten(New(state), state, replaces: state);
        }
        return c;
    }

    /// <summary>The gradient outputs that <see cref="Autodiff.Differentiator"/> wrote for every parameter, passed to an optimizer graph.</summary>
    public static ContractBuilder PassesGradients(this ContractBuilder c, ModelContext ctx)
    {
        foreach (var p in ctx.Parameters) c.Passed(Grad(ctx.GraphName(p.Name)));
        return c;
    }
}

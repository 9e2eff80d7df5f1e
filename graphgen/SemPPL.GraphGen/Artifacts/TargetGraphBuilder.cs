using SemPPL.Config;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>
/// target.onnx: target encoder + projector on every large view, BatchNorm on batch statistics
/// (as in BYOL; the target's running statistics follow the online ones by EMA), l2-normalised.
/// Also emits the slices the queue and pseudo-label graphs consume, so no host work is needed.
/// In a data-parallel set the graph is the same at one rank's shapes; its outputs are gathered over the ranks by the
/// graphs that need the job's values (queue.onnx, train.onnx).
/// </summary>
public static class TargetGraphBuilder
{
    /// <returns>The graph, and the target network's tensors (local names, parameters then BatchNorm buffers): what ema.onnx moves.</returns>
    public static (BuiltGraph Graph, IReadOnlyList<(string Name, long[] Shape)> Tensors) Build(SemPPLConfig config, ArtifactShapes s)
    {
        var g = new GraphBuilder("semppl_target") { ChannelReduction = ChannelReductionSetting.Of(config.Model) };
        var large = g.Input(ViewsLarge, DType.Float, s.LargeViews, s.Batch, s.Channels, s.LargeSize, s.LargeSize);
        var labels = g.Input(Labels, DType.Int64, s.BatchLabelled);
        var target = new SemPPLNetwork(config.Model, s.Channels).Target(g);
        var ctx = target.Context;
        var views = new List<Value>();
        var ghost = new GhostBatch(s.GroupsPerRank, s.BatchUnlabelled, s.BatchLabelled);
        for (int v = 0; v < s.LargeViews; v++)
        {
            var projection = ghost.Apply(ctx, TrainGraphBuilder.View(g, large, v), x => [target.Project(target.Features(x))])[0];
            views.Add(g.Unsqueeze(Embeddings.L2Normalize(g, projection), 0));
        }
        var z = g.Concat(views, 0); // [L, B, D]
        g.Output(z, TargetEmbeddings);
        g.Output(g.Slice(z, [0], [s.BatchUnlabelled], [1]), TargetUnlabelled);
        var labelled = g.Slice(z, [s.BatchUnlabelled], [s.Batch], [1]);
        g.Output(g.Reshape(labelled, s.LocalQueuePush, s.EmbeddingDim), PushEmbeddings);
        g.Output(g.Reshape(g.Tile(g.Unsqueeze(labels, 0), s.LargeViews, 1), s.LocalQueuePush), PushLabels);
        var contract = new ContractBuilder().HostFed(ViewsLarge, HostRole.ViewsLarge).HostFed(Labels, HostRole.Labels).ReadsNetwork(ctx)
            .Passed(TargetEmbeddings).Passed(TargetUnlabelled).Passed(PushEmbeddings).Passed(PushLabels);
        var tensors = ctx.Parameters.Select(p => (p.Name, p.Shape)).Concat(ctx.Buffers.Select(b => (b.Name, b.Shape))).ToList();
        return (new BuiltGraph(g, contract.Finish(g)), tensors);
    }
}

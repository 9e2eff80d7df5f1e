using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>
/// Ghost BatchNorm over one rank's batch (training.bn_groups, ArtifactShapes.GroupsPerRank): the batch [B, ...] holds
/// <paramref name="Unlabelled"/> unlabelled then <paramref name="Labelled"/> labelled images; group j is its unlabelled rows
/// [j u, (j + 1) u) followed by its labelled rows [Bu + j l, Bu + (j + 1) l) (u, l the per-group shares), which is the
/// batch rank j of a data-parallel job with one group per rank would hold. Each group goes through the network on its
/// own (<see cref="ModelContext.InBatchNormGroups{T}"/>) and the outputs return to the batch's order.
/// </summary>
public sealed record GhostBatch(int Groups, long Unlabelled, long Labelled)
{
    private long GroupUnlabelled => Unlabelled / Groups;
    private long GroupLabelled => Labelled / Groups;

    /// <summary>
    /// Applies <paramref name="forward"/> (a network forward returning per-image outputs [B, ...]) with BatchNorm statistics
    /// per group; returns its outputs in the batch's order. One group: exactly <paramref name="forward"/>(batch).
    /// </summary>
    public IReadOnlyList<Value> Apply(ModelContext ctx, Value batch, Func<Value, IReadOnlyList<Value>> forward)
    {
        if (Groups == 1) return forward(batch);
        if (Unlabelled % Groups != 0 || Labelled % Groups != 0)
            throw new ArgumentException($"ghost BatchNorm: {Unlabelled} unlabelled and {Labelled} labelled images do not divide into {Groups} groups");
        if (batch.Shape[0] != Unlabelled + Labelled)
            throw ShapeException.For("GhostBatch", $"batch must have {Unlabelled + Labelled} rows", batch);
        var g = ctx.Graph;
        var perGroup = ctx.InBatchNormGroups(Groups, j => forward(Group(g, batch, j)));
        return Enumerable.Range(0, perGroup[0].Count).Select(k => Reassemble(g, perGroup.Select(outputs => outputs[k]).ToList())).ToList();
    }

    /// <summary>Group <paramref name="j"/>'s rows of <paramref name="batch"/>: its unlabelled images, then its labelled ones.</summary>
    public Value Group(GraphBuilder g, Value batch, int j)
    {
        long u = GroupUnlabelled, l = GroupLabelled;
        var unlabelled = g.Slice(batch, [j * u], [(j + 1) * u], [0]);
        if (l == 0) return unlabelled;
        return g.Concat([unlabelled, g.Slice(batch, [Unlabelled + j * l], [Unlabelled + (j + 1) * l], [0])], 0);
    }

    /// <summary>The groups' outputs back in the batch's order: every group's unlabelled rows, then every group's labelled rows.</summary>
    public Value Reassemble(GraphBuilder g, IReadOnlyList<Value> groups)
    {
        long u = GroupUnlabelled, l = GroupLabelled;
        var parts = groups.Select(x => g.Slice(x, [0], [u], [0])).ToList();
        if (l > 0) parts.AddRange(groups.Select(x => g.Slice(x, [u], [u + l], [0])));
        return g.Concat(parts, 0);
    }
}

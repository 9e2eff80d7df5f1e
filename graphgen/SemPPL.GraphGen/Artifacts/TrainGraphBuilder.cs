using SemPPL.Config;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>What building the online network reported: its parameters and BN buffers (local names, without the online. prefix).</summary>
public sealed record OnlineNetworkSpec(IReadOnlyList<ParameterSpec> Parameters, IReadOnlyList<BufferSpec> Buffers);

/// <summary>
/// train.onnx: online forward on every view (each view its own BatchNorm batch), the SemPPL
/// objective against the target embeddings and semantic positives, the online linear classifier on
/// stop-gradient features of the labelled images, and the backward pass: one gradient per online
/// parameter, plus the updated BN running statistics.
/// </summary>
public static class TrainGraphBuilder
{
    public static (BuiltGraph Graph, OnlineNetworkSpec Spec) Build(SemPPLConfig config, ArtifactShapes s)
    {
        var g = new GraphBuilder("semppl_train") { ChannelReduction = ChannelReductionSetting.Of(config.Model) };
        var large = g.Input(ViewsLarge, DType.Float, s.LargeViews, s.Batch, s.Channels, s.LargeSize, s.LargeSize);
        var small = s.SmallViews > 0 ? g.Input(ViewsSmall, DType.Float, s.SmallViews, s.Batch, s.Channels, s.SmallSize, s.SmallSize) : null;
        var labels = g.Input(Labels, DType.Int64, s.BatchLabelled);
        bool dataParallel = s.WorldSize > 1;
        var target = dataParallel
            ? JobTarget(g, g.Input(TargetEmbeddingsGathered, DType.Float, s.WorldSize, s.LargeViews, s.Batch, s.EmbeddingDim), s)
            : g.Input(TargetEmbeddings, DType.Float, s.LargeViews, s.Batch, s.EmbeddingDim);
        var negatives = g.Input(Negatives, DType.Int64, s.LargeViews, s.Batch, s.Negatives);
        var positives = g.Input(Positives, DType.Float, s.Batch, s.SemanticPositives, s.EmbeddingDim);
        var positiveMask = g.Input(PositiveMask, DType.Float, s.Batch);
        var job = dataParallel
            ? new ObjectiveJob(g.Input(GlobalIndex, DType.Int64, s.Batch), g.Input(PositiveCountSum, DType.Float), s.WorldSize)
            : null;

        var online = new SemPPLNetwork(config.Model, s.Channels).Online(g, ModelMode.Training);
        var ctx = online.Context;

        var predictions = new List<Value>();
        Value? firstFeatures = null;
        var ghost = new GhostBatch(s.GroupsPerRank, s.BatchUnlabelled, s.BatchLabelled);
        for (int v = 0; v < s.OnlineViews; v++)
        {
            var images = v < s.LargeViews ? View(g, large, v) : View(g, small!, v - s.LargeViews);
            var outputs = ghost.Apply(ctx, images, x =>
            {
                var f = online.Features(x);
                return [f, online.Predict(online.Project(f))];
            });
            var (features, prediction) = (outputs[0], outputs[1]);
            firstFeatures ??= features;
            predictions.Add(g.Unsqueeze(Embeddings.L2Normalize(g, prediction), 0));
        }
        var onlinePredictions = g.Concat(predictions, 0);

        var parts = SemPPLObjective.Build(g,
            new ObjectiveInputs(onlinePredictions, g.StopGradient(target), negatives, g.StopGradient(positives), positiveMask) { Job = job },
            new ObjectiveSettings(s.LargeViews, s.SmallViews, (float)config.Objective.Temperature,
                (float)config.Objective.C, (float)config.Objective.Alpha, (float)config.Objective.Lambda));

        // The classifier sees stop_gradient(encoder features) of the labelled images of the first large view.
        var labelledFeatures = g.Slice(g.StopGradient(firstFeatures!), [s.BatchUnlabelled], [s.Batch], [0]);
        var logits = online.Classify(labelledFeatures);
        var (ce, accuracy) = ClassifierLoss.Build(g, logits, labels);

        var total = g.Add(parts.Total, g.Mul(ce, (float)config.Objective.ClassifierWeight));
        g.Output(total, Loss);
        g.Output(parts.Augmentation, LossAugmentation);
        g.Output(parts.SemanticPositive, LossSemanticPositive);
        g.Output(parts.Invariance, LossInvariance);
        g.Output(ce, LossClassifier);
        g.Output(accuracy, ClassifierAccuracy);

        var parameters = ctx.Parameters.Select(p => ctx.ParameterValue(p.Name)).ToArray();
        Differentiator.Differentiate(g, total, parameters, outputPrefix: GradPrefix);
        var contract = new ContractBuilder()
            .HostFed(ViewsLarge, HostRole.ViewsLarge).HostFed(Labels, HostRole.Labels).HostFed(Negatives, HostRole.Negatives)
            .Passed(Positives).Passed(PositiveMask)
            .ReadsNetwork(ctx).PassesGradients(ctx).WritesUpdatedBuffers(ctx)
            .HostResult(Loss, HostRole.Loss).HostResult(LossAugmentation, HostRole.LossAugmentation)
            .HostResult(LossSemanticPositive, HostRole.LossSemanticPositive).HostResult(LossInvariance, HostRole.LossInvariance)
            .HostResult(LossClassifier, HostRole.LossClassifier).HostResult(ClassifierAccuracy, HostRole.ClassifierAccuracy);
        if (small is not null) contract.HostFed(ViewsSmall, HostRole.ViewsSmall);
        if (dataParallel)
            contract.Gathered(TargetEmbeddingsGathered, TargetEmbeddings).HostFed(GlobalIndex, HostRole.GlobalIndex)
                .Summed(PositiveCountSum, PositiveCount);
        else contract.Passed(TargetEmbeddings);
        return (new BuiltGraph(g, contract.Finish(g)), new OnlineNetworkSpec(ctx.Parameters, ctx.Buffers));
    }

    /// <summary>
    /// The job's target embeddings [L, B_global, D] in the job's batch order (every rank's unlabelled images, then every
    /// rank's labelled images) from every rank's [L, B, D] gathered in rank order ([N, L, B, D]).
    /// </summary>
    private static Value JobTarget(GraphBuilder g, Value gathered, ArtifactShapes s)
    {
        var byView = g.Transpose(gathered, 1, 0, 2, 3); // [L, N, B, D]
        var unlabelled = g.Reshape(g.Slice(byView, [0], [s.BatchUnlabelled], [2]), s.LargeViews, s.GlobalBatchUnlabelled, s.EmbeddingDim);
        var labelled = g.Reshape(g.Slice(byView, [s.BatchUnlabelled], [s.Batch], [2]), s.LargeViews, s.GlobalBatchLabelled, s.EmbeddingDim);
        return g.Concat([unlabelled, labelled], 1);
    }

    /// <summary>View v of a [V, B, C, H, W] stack as a [B, C, H, W] batch.</summary>
    public static Value View(GraphBuilder g, Value stack, int v) =>
        g.Squeeze(g.Slice(stack, [v], [v + 1], [0]), 0);
}

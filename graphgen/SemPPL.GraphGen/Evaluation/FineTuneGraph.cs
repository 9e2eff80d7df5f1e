using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Evaluation;

/// <summary>
/// The paper's evaluation protocol: fine-tune every encoder weight and the linear classifier on the
/// labelled subset with softmax cross-entropy (BatchNorm on batch statistics). Parameter names equal
/// train.onnx's online names, so the trained state binds directly.
/// Inputs: images [B, C, H, W], labels [B], online.encoder.* and online.classifier.* parameters and
/// encoder BN buffers. Outputs: loss, accuracy, grad.* per parameter, new.* per buffer.
/// Returns the graph and its parameters as an optimizer graph sees them (named by their state tensors).
/// </summary>
public static class FineTuneGraph
{
    public static (BuiltGraph Graph, IReadOnlyList<OptimizerParameter> Parameters) Build(
        SemPPLConfig config, long batch, int channels, int size)
    {
        var g = new GraphBuilder("semppl_finetune") { ChannelReduction = ChannelReductionSetting.Of(config.Model) };
        var images = g.Input(Images, DType.Float, batch, channels, size, size);
        var labels = g.Input(Labels, DType.Int64, batch);
        var online = new SemPPLNetwork(config.Model, channels).Online(g, ModelMode.Training);
        var ctx = online.Context;
        var logits = online.Classify(online.Features(images));
        var (loss, accuracy) = ClassifierLoss.Build(g, logits, labels);
        g.Output(loss, Loss);
        g.Output(accuracy, Accuracy);
        Differentiator.Differentiate(g, loss, ctx.Parameters.Select(p => ctx.ParameterValue(p.Name)).ToList(), outputPrefix: GradPrefix);
        var contract = new ContractBuilder().HostFed(Images, HostRole.Images).HostFed(Labels, HostRole.Labels).ReadsNetwork(ctx)
            .HostResult(Loss, HostRole.Loss).HostResult(Accuracy, HostRole.ClassifierAccuracy).PassesGradients(ctx).WritesUpdatedBuffers(ctx);
        var parameters = ctx.Parameters
            .Select(p => new OptimizerParameter(ctx.GraphName(p.Name), p.Shape, p.ExcludedFromWeightDecay, p.ExcludedFromLars)).ToList();
        return (new BuiltGraph(g, contract.Finish(g)), parameters);
    }
}

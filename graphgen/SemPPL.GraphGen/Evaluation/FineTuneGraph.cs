using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Objective;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Evaluation;

/// <summary>
/// The paper's evaluation protocol: fine-tune every encoder weight and the linear classifier on the
/// labelled subset with softmax cross-entropy (BatchNorm on batch statistics). Parameter names equal
/// train.onnx's online names, so the trained state binds directly.
/// Inputs: images [B, C, H, W], labels [B], online.encoder.* and online.classifier.* parameters and
/// encoder BN buffers. Outputs: loss, accuracy, grad.* per parameter, new.* per buffer.
/// </summary>
public static class FineTuneGraph
{
    public static (GraphBuilder Graph, IReadOnlyList<ParameterSpec> Parameters, IReadOnlyList<BufferSpec> Buffers) Build(
        SemPPLConfig config, long batch, int channels, int size)
    {
        var g = new GraphBuilder("semppl_finetune");
        var images = g.Input("images", DType.Float, batch, channels, size, size);
        var labels = g.Input("labels", DType.Int64, batch);
        var ctx = new ModelContext(g, ArtifactNames.OnlinePrefix, ModelMode.Training, (float)config.Model.BnMomentum, (float)config.Model.BnEpsilon);
        var features = BackboneRegistry.Create(config.Model, channels).Forward(ctx, images);
        var logits = LinearClassifier.Forward(ctx, features, config.Model.NumClasses, "classifier");
        var (loss, accuracy) = ClassifierLoss.Build(g, logits, labels);
        g.Output(loss, "loss");
        g.Output(accuracy, "accuracy");
        Differentiator.Differentiate(g, loss, ctx.Parameters.Select(p => ctx.ParameterValue(p.Name)).ToList());
        foreach (var name in ctx.UpdatedBufferNames) g.Output(ctx.UpdatedBuffers[name], ArtifactNames.NewPrefix + ctx.GraphName(name));
        return (g, ctx.Parameters, ctx.Buffers);
    }
}

using SemPPL.Config;
using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>
/// eval.onnx: online encoder with running BatchNorm statistics, dynamic batch; outputs the encoder
/// embedding, the projector output and the linear classifier's logits. Parameters are graph inputs
/// (named as in train.onnx) so the trainer evaluates its live device state without an export.
/// </summary>
public static class EvalGraphBuilder
{
    public static GraphBuilder Build(SemPPLConfig config, ArtifactShapes s, long batch = -1, int opset = GraphBuilder.DefaultOpset) =>
        BuildWithContract(config, s, batch, opset).Graph;

    public static BuiltGraph BuildWithContract(SemPPLConfig config, ArtifactShapes s, long batch = -1, int opset = GraphBuilder.DefaultOpset)
    {
        var g = new GraphBuilder("semppl_eval", opset);
        var images = g.Input(Images, DType.Float, batch, s.Channels, s.LargeSize, s.LargeSize);
        var online = new SemPPLNetwork(config.Model, s.Channels).Online(g, ModelMode.Inference);
        var ctx = online.Context;
        var features = online.Features(images);
        var projection = online.Project(features);
        var logits = online.Classify(features);
        g.Output(features, Embedding);
        g.Output(projection, Projection);
        g.Output(logits, Logits);
        var contract = new ContractBuilder().HostFed(Images, HostRole.Images).ReadsNetwork(ctx)
            .HostResult(Embedding, HostRole.Embedding).HostResult(Projection, HostRole.Projection).HostResult(Logits, HostRole.Logits);
        return new BuiltGraph(g, contract.Finish(g));
    }
}

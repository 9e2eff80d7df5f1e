using SemPPL.Config;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Models;

/// <summary>
/// The SemPPL networks, declared once. The online network is backbone -> projector -> predictor, with a linear
/// classifier on backbone features; the target network is backbone -> projector and follows the online one by EMA, so
/// the target's tensors are exactly those a <see cref="Target"/> copy declares. Every graph (train, target, eval,
/// fine-tuning) builds its copy from here.
/// </summary>
public sealed class SemPPLNetwork(ModelConfig model, long channels)
{
    /// <summary>The first component of each tensor's local name: which part of the network it belongs to.</summary>
    public const string Encoder = "encoder";
    public const string Projector = "projector";
    public const string Predictor = "predictor";
    public const string Classifier = "classifier";

    /// <summary>The online network in graph <paramref name="g"/> (tensors named online.*).</summary>
    public NetworkCopy Online(GraphBuilder g, ModelMode mode) => new(model, channels, ModelContext.For(g, OnlinePrefix, mode, model));

    /// <summary>The target network in graph <paramref name="g"/> (tensors named target.*; BatchNorm on batch statistics, as in BYOL).</summary>
    public NetworkCopy Target(GraphBuilder g) => new(model, channels, ModelContext.For(g, TargetPrefix, ModelMode.Training, model));
}

/// <summary>One copy of the network inside one graph: its parts, applied to values of that graph.</summary>
public sealed class NetworkCopy
{
    private readonly ModelConfig _model;
    private readonly IBackbone _backbone;

    internal NetworkCopy(ModelConfig model, long channels, ModelContext context)
    {
        _model = model;
        Context = context;
        _backbone = BackboneRegistry.Create(model, channels);
    }

    /// <summary>The parameters and buffers the copy has declared so far, and its updated BatchNorm statistics.</summary>
    public ModelContext Context { get; }

    /// <summary>Backbone features [B, F] of images [B, C, H, W].</summary>
    public Value Features(Value images) => _backbone.Forward(Context, images);

    public Value Project(Value features) =>
        Mlp.Forward(Context, features, _model.Projector.Hidden, _model.Projector.Out, SemPPLNetwork.Projector);

    public Value Predict(Value projection) =>
        Mlp.Forward(Context, projection, _model.Predictor.Hidden, _model.Predictor.Out, SemPPLNetwork.Predictor);

    public Value Classify(Value features) => LinearClassifier.Forward(Context, features, _model.NumClasses, SemPPLNetwork.Classifier);
}

using Onnx;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Evaluation;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Export;

/// <summary>
/// The parts an export adds to the encoder graph, each built with GraphBuilder and spliced into the model: the
/// linear-probe head (the same graph the probe was scored with) and the <c>--preprocess</c> prefix that turns
/// uint8 NHWC pixels into the normalised NCHW input (Cast, Transpose, Sub, Div).
/// </summary>
public static class DeployGraphs
{
    public const string ProbePrefix = "probe/", PreprocessPrefix = "preprocess/";
    private const string Normalised = "normalised";

    /// <summary>Adds output <c>logits</c> = the linear probe applied to output <c>embedding</c>; probe.weight/bias become initializers.</summary>
    public static void AppendLinearProbe(ModelProto model, HostTensor weight, HostTensor bias, int opset)
    {
        long classes = weight.Shape[0], features = weight.Shape[1];
        var partModel = LinearProbeGraph.BuildPredict(-1, features, (int)classes, opset).Graph.ToModel();
        var g = model.Graph;
        g.Initializer.Add(weight.ToProto(ArtifactNames.ProbeWeight));
        g.Initializer.Add(bias.ToProto(ArtifactNames.ProbeBias));
        Splice(g, partModel.Graph, new Dictionary<string, string>
        {
            [ArtifactNames.Features] = ArtifactNames.Embedding,
            [ArtifactNames.ProbeWeight] = ArtifactNames.ProbeWeight,
            [ArtifactNames.ProbeBias] = ArtifactNames.ProbeBias,
            [ArtifactNames.Logits] = ArtifactNames.Logits,
        }, ProbePrefix, prepend: false);
        g.Output.Add(partModel.Graph.Output.Single(o => o.Name == ArtifactNames.Logits));
    }

    /// <summary>
    /// Replaces float input <c>images</c> [N, C, S, S] by uint8 <c>images</c> [N, S, S, C] and normalises inside the
    /// graph: x = (p - 255 mean) / (255 std), the same as (p / 255 - mean) / std.
    /// </summary>
    public static void PrependPreprocess(ModelProto model, int size, int channels, IReadOnlyList<double> mean, IReadOnlyList<double> std, int opset)
    {
        var b = new GraphBuilder("semppl_preprocess", opset);
        var pixels = b.Input(ArtifactNames.Images, DType.UInt8, -1, size, size, channels);
        var nchw = b.Transpose(b.Cast(pixels, DType.Float), 0, 3, 1, 2);
        var m = b.Constant(HostTensor.Float([1, channels, 1, 1], mean.Select(v => (float)(v / DeployMetadata.PixelScale)).ToArray()), "mean");
        var s = b.Constant(HostTensor.Float([1, channels, 1, 1], std.Select(v => (float)(v / DeployMetadata.PixelScale)).ToArray()), "std");
        b.Output(b.Div(b.Sub(nchw, m), s), Normalised);
        var part = b.ToModel().Graph;

        var g = model.Graph;
        var input = g.Input.Single(i => i.Name == ArtifactNames.Images);
        string renamed = PreprocessPrefix + Normalised;
        foreach (var n in g.Node)
            for (int i = 0; i < n.Input.Count; i++)
                if (n.Input[i] == ArtifactNames.Images) n.Input[i] = renamed;
        g.Input.Remove(input);
        g.Input.Insert(0, part.Input.Single());
        Splice(g, part, new Dictionary<string, string> { [ArtifactNames.Images] = ArtifactNames.Images }, PreprocessPrefix, prepend: true);
    }

    /// <summary>
    /// Copies <paramref name="part"/>'s nodes and initializers into <paramref name="target"/>. Names in <paramref name="bind"/>
    /// map to target names; every other value and node name gets <paramref name="prefix"/>, so nothing collides.
    /// </summary>
    private static void Splice(GraphProto target, GraphProto part, IReadOnlyDictionary<string, string> bind, string prefix, bool prepend)
    {
        string Map(string name) => name.Length == 0 ? "" : bind.TryGetValue(name, out var t) ? t : prefix + name;
        foreach (var init in part.Initializer)
        {
            var copy = init.Clone();
            copy.Name = Map(init.Name);
            target.Initializer.Add(copy);
        }
        var nodes = part.Node.Select(n =>
        {
            var copy = n.Clone();
            copy.Name = prefix + n.Name;
            for (int i = 0; i < copy.Input.Count; i++) copy.Input[i] = Map(copy.Input[i]);
            for (int i = 0; i < copy.Output.Count; i++) copy.Output[i] = Map(copy.Output[i]);
            return copy;
        }).ToList();
        if (prepend) for (int i = nodes.Count - 1; i >= 0; i--) target.Node.Insert(0, nodes[i]);
        else target.Node.AddRange(nodes);
    }
}

using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Trainer.Runtime;

/// <summary>One graph file of an artifact set with its contract from manifest.json.</summary>
public sealed record ArtifactGraph(string Path, GraphContract Contract)
{
    public static ArtifactGraph Of(string artifactDir, Manifest manifest, GraphRole role) =>
        new(System.IO.Path.Combine(artifactDir, manifest.Graph(role).File), manifest.Graph(role).Contract);

    /// <summary>Whether the graph reads state tensor <paramref name="name"/> (which checkpoint tensors it needs).</summary>
    public bool ReadsState(string name) => Contract.Inputs.Any(i => i.Kind == IoKind.StateRead && i.Tensor == name);
}

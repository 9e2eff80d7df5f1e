using System.Diagnostics;
using SemPPL.Config;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using SemPPL.GraphGen.Graphs;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>
/// Writes one artifact set (docs/artifacts.md) for a validated config. Everything is
/// written into a temporary sibling folder that replaces the target only when complete, so a failure
/// leaves no half-written set. Same config => byte-identical files (no timestamps, fixed ordering).
/// </summary>
public static class ArtifactSetWriter
{
    /// <summary>Version of the graphs this tool writes; bumped whenever a formulation changes, so runs regenerate stale sets.
    /// 0.2.0: closed-form BatchNorm backward. 0.3.0: Conv weight gradients by one Gather (GatherIm2Col). 0.4.0: the
    /// BatchNorm backward's c * k term as a fused per-channel affine; the weight gradient's input padded as whole rows;
    /// LARS norms by ReduceSumSquare and trust ratios as one vector; the 1-D tensors of LARS and EMA updated as
    /// concatenated vectors. 0.5.0: the data inputs of convolutions carry their shapes (value_info), for the CPU lowering's
    /// choice of a Winograd form on small images. 0.6.0: the weight gradient's input padded with zero image rows only (taps
    /// beside the image read a zero row), one run per sample for ORT's Pad.</summary>
    public const string ToolVersion = "0.6.0";

    /// <param name="worldSize">Ranks of the data-parallel job the set is for (1: one process); see <see cref="ArtifactShapes"/>.</param>
    public static Manifest Write(SemPPLConfig config, int labelledImages, string outDir, Action<string>? log = null, int worldSize = 1)
    {
        log ??= _ => { };
        var shapes = ArtifactShapes.From(config, labelledImages, worldSize);
        string full = Path.GetFullPath(outDir);
        string temp = full.TrimEnd('/') + $".tmp-{Environment.ProcessId}";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        try
        {
            var graphs = new SortedDictionary<string, GraphEntry>(StringComparer.Ordinal);
            void Save(string file, GraphRole role, BuiltGraph built, GraphContract? linked = null)
            {
                var sw = Stopwatch.StartNew();
                var g = built.Graph;
                g.Metadata["semppl.config_hash"] = ConfigHash.Compute(config, labelledImages);
                g.Save(Path.Combine(temp, file));
                var contract = linked ?? built.Contract;
                graphs[Path.GetFileNameWithoutExtension(file)] = new GraphEntry(file, role, contract.Inputs, contract.Outputs, g.Nodes.Count);
                log($"{file}: {g.Nodes.Count} nodes, {g.Inputs.Count} inputs, {g.Outputs.Count} outputs ({sw.ElapsedMilliseconds} ms to write)");
            }

            var sw = Stopwatch.StartNew();
            var (train, spec) = TrainGraphBuilder.Build(config, shapes);
            log($"train graph built in {sw.ElapsedMilliseconds} ms");
            var optimizerParams = spec.Parameters
                .Select(p => new OptimizerParameter(OnlinePrefix + p.Name, p.Shape, p.ExcludedFromWeightDecay, p.ExcludedFromLars)).ToList();
            var (target, targetTensors) = TargetGraphBuilder.Build(config, shapes);
            // The step, in the order the trainer runs it: target -> queue push -> pseudo-labels -> train -> optimizer -> EMA.
            var step = new List<(string File, GraphRole Role, BuiltGraph Built)>
            {
                (TargetFile, GraphRole.Target, target),
                (QueueFile, GraphRole.Queue, shapes.WorldSize == 1
                    ? QueueGraph.Build(shapes.QueueCapacity, shapes.EmbeddingDim, shapes.QueuePush)
                    : QueueGraph.BuildForRanks(shapes.QueueCapacity, shapes.EmbeddingDim, shapes.LargeViews, shapes.BatchLabelled, shapes.WorldSize)),
                (PseudoLabelFile, GraphRole.PseudoLabel, PseudoLabelGraph.Build(shapes.LargeViews, shapes.BatchUnlabelled, shapes.BatchLabelled,
                    shapes.QueueCapacity, shapes.EmbeddingDim, shapes.KnnK, shapes.SemanticPositives, shapes.NumClasses,
                    passPositiveCount: shapes.WorldSize > 1)),
                (TrainFile, GraphRole.Train, train),
                (OptimizerFile, GraphRole.Optimizer, OptimizerGraphFactory.Build(config.Optimizer, optimizerParams)),
                (EmaFile, GraphRole.Ema, EmaGraph.Build(targetTensors)),
            };
            var linked = GraphContract.InStepOrder(step.Select(x => x.Built.Contract).ToList());
            for (int i = 0; i < step.Count; i++) Save(step[i].File, step[i].Role, step[i].Built, linked[i]);
            Save(EvalFile, GraphRole.Eval, EvalGraphBuilder.BuildWithContract(config, shapes));

            // Initial online weights; the trainer starts the target as a copy (same values by construction).
            var weights = ParameterInitializer.Initialize(spec.Parameters, config.Seed);
            var tensors = spec.Parameters.Select((p, i) => (OnlinePrefix + p.Name, HostTensor.Float(p.Shape, weights[i])))
                .Concat(spec.Buffers.Select(b => (OnlinePrefix + b.Name, HostTensor.Float(b.Shape, b.InitialValues()))))
                .ToList();
            TensorFile.Write(Path.Combine(temp, InitialWeightsFile), tensors, new Dictionary<string, string> { ["seed"] = config.Seed.ToString() });
            var state = StateEntries(linked, tensors.Select(t => t.Item1).ToList(), targetTensors.ToDictionary(t => Target(t.Name), t => Online(t.Name)));

            var manifest = new Manifest
            {
                ToolVersion = ToolVersion,
                Opset = GraphBuilder.DefaultOpset,
                IrVersion = GraphBuilder.DefaultIrVersion,
                ConfigHash = ConfigHash.Compute(config, labelledImages),
                Seed = config.Seed,
                Model = new ModelEntry(config.Model.Backbone, config.Model.Stem, config.Model.Width),
                LabelledImages = labelledImages,
                Shapes = shapes,
                Graphs = graphs,
                Step = step.Select(x => Path.GetFileNameWithoutExtension(x.File)).ToList(),
                State = state,
                Parameters = spec.Parameters.Select(p => new ParameterEntry(OnlinePrefix + p.Name, p.Shape, p.Kind.ToString(), HeadOf(p.Name),
                    p.ExcludedFromWeightDecay, p.ExcludedFromLars, Shapes.Product(p.Shape))).ToList(),
                Buffers = spec.Buffers.Select(b => new BufferEntry(OnlinePrefix + b.Name, b.Shape, b.InitialValue)).ToList(),
                ParameterCounts = Count(spec.Parameters),
                InitialWeights = InitialWeightsFile,
            };
            File.WriteAllText(Path.Combine(temp, ManifestFile), manifest.ToJson());

            if (Directory.Exists(full)) Directory.Delete(full, true);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            Directory.Move(temp, full);
            log($"artifact set written to {full}");
            return manifest;
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, true);
            throw;
        }
    }

    /// <summary>
    /// Every state tensor the step's graphs read or write, with where its first value comes from: the initial-weights
    /// file, a copy of another state tensor (target from online), or zeros. Fails when graphs disagree on a tensor's shape.
    /// </summary>
    private static List<StateEntry> StateEntries(IReadOnlyList<GraphContract> step, IReadOnlyList<string> initialWeights,
        IReadOnlyDictionary<string, string> copies)
    {
        var seen = new Dictionary<string, GraphIo>(StringComparer.Ordinal);
        foreach (var io in step.SelectMany(c => c.Inputs.Concat(c.Outputs)).Where(io => io.Kind is IoKind.StateRead or IoKind.StateWritten))
        {
            if (!seen.TryAdd(io.Tensor!, io) && (seen[io.Tensor!].DType != io.DType || !seen[io.Tensor!].Shape.SequenceEqual(io.Shape)))
                throw new InvalidOperationException($"state tensor '{io.Tensor}' has two shapes in the step's graphs");
        }
        StateEntry Entry(string name, StateInit init, string? copyOf = null) =>
            seen.TryGetValue(name, out var io) ? new StateEntry(name, io.DType, io.Shape, init) { CopyOf = copyOf }
                : throw new InvalidOperationException($"state tensor '{name}' is not read by any graph of the step");
        var entries = initialWeights.Select(n => Entry(n, StateInit.InitialWeights))
            .Concat(copies.Select(c => Entry(c.Key, StateInit.CopyOf, c.Value))).ToList();
        var listed = entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        entries.AddRange(seen.Keys.Where(n => !listed.Contains(n)).Select(n => Entry(n, StateInit.Zeros)));
        return entries;
    }

    public static string HeadOf(string name)
    {
        var local = name.StartsWith(OnlinePrefix, StringComparison.Ordinal) ? name[OnlinePrefix.Length..] : name;
        int dot = local.IndexOf('.');
        return dot < 0 ? local : local[..dot];
    }

    private static ParameterCountsEntry Count(IReadOnlyList<ParameterSpec> ps)
    {
        var c = ParameterCounts.Of(ps);
        return new ParameterCountsEntry(c.Encoder, c.Projector, c.Predictor, c.Classifier, c.Total);
    }
}

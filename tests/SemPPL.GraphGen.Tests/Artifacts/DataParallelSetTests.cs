using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Models;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;
using Xunit.Abstractions;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Tests.Artifacts;

/// <summary>
/// Data-parallel artifact sets (docs/design.md, "Data-parallel sets"): a set for 2 ranks, run as 2 ranks with the
/// collectives done on the host, computes what one process computes with the job's batch in 2 BatchNorm groups.
/// </summary>
public sealed class DataParallelSetTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "semppl-dp-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    /// <summary>A tiny ResNet run: L = 2 large 28 px views and S = 1 small 14 px view, B_u = 8, B_l = 4, a queue of 16.</summary>
    private static SemPPLConfig Config(int bnGroups)
    {
        var c = ConfigLoader.FromYaml($"""
            name: dp-tiny
            seed: 5
            device: cpu
            data:
              dataset: fashion-mnist-embedded
              labels_per_class: 2
            augment:
              large_views: 2
              small_views: 1
              large_size: 28
              small_size: 14
              channels: 1
            model:
              backbone: resnet18
              stem: small
              width: 0.0625
              projector: {"{ hidden: 32, out: 16 }"}
              predictor: {"{ hidden: 32, out: 16 }"}
              num_classes: 10
            objective:
              negatives: 7
              semantic_positives: 2
              knn_k: 3
              queue_capacity: 16
            training:
              batch_unlabelled: 8
              batch_labelled: 4
              bn_groups: {bnGroups}
              steps: 1
            """, "dp-tiny");
        ConfigValidator.Validate(c);
        return c;
    }

    private const int Labelled = 20, Classes = 4, QueueFill = 10;

    [Fact]
    public void Two_ranks_compute_what_one_process_computes_with_two_batchnorm_groups()
    {
        var config = Config(bnGroups: 2);
        string oneDir = Path.Combine(_root, "one"), twoDir = Path.Combine(_root, "two");
        var one = ArtifactSetWriter.Write(config, Labelled, oneDir);
        var two = ArtifactSetWriter.Write(config, Labelled, twoDir, worldSize: 2);
        var s = two.Shapes;
        Assert.Equal((1, 2, 2, 1), (one.Shapes.WorldSize, one.Shapes.GroupsPerRank, s.WorldSize, s.GroupsPerRank));
        int L = s.LargeViews, bu = s.BatchUnlabelled, bl = s.BatchLabelled, Bu = s.GlobalBatchUnlabelled, B = s.GlobalBatch;

        // The job's host inputs, and each rank's rows of them (its job indices: unlabelled first).
        var rng = new SplitMix64(11);
        var viewsLarge = Normal(ref rng, L, B, s.Channels, s.LargeSize, s.LargeSize);
        var viewsSmall = Normal(ref rng, s.SmallViews, B, s.Channels, s.SmallSize, s.SmallSize);
        var labels = HostTensor.Int64([s.GlobalBatchLabelled], Enumerable.Range(0, s.GlobalBatchLabelled).Select(_ => (long)(rng.NextUInt64() % Classes)).ToArray());
        var negatives = DrawNegatives(ref rng, L, B, s.Negatives);
        var uniforms = HostTensor.Float([B, s.SemanticPositives], Enumerable.Range(0, B * s.SemanticPositives).Select(_ => (float)rng.NextDouble()).ToArray());
        long[][] jobIndex = [.. Enumerable.Range(0, 2).Select(r =>
            Enumerable.Range(r * bu, bu).Concat(Enumerable.Range(Bu + r * bl, bl)).Select(i => (long)i).ToArray())];
        HostTensor Host(int r, HostRole role, int ranks) => (role, ranks) switch
        {
            (HostRole.ViewsLarge, 1) => viewsLarge,
            (HostRole.ViewsSmall, 1) => viewsSmall,
            (HostRole.Labels, 1) => labels,
            (HostRole.Negatives, 1) => negatives,
            (HostRole.Uniforms, 1) => uniforms,
            (HostRole.ViewsLarge, _) => RankedStep.Rows(viewsLarge, 1, jobIndex[r]),
            (HostRole.ViewsSmall, _) => RankedStep.Rows(viewsSmall, 1, jobIndex[r]),
            (HostRole.Labels, _) => RankedStep.Rows(labels, 0, jobIndex[r][bu..].Select(i => i - Bu).ToArray()),
            (HostRole.Negatives, _) => RankedStep.Rows(negatives, 1, jobIndex[r]),
            (HostRole.Uniforms, _) => RankedStep.Rows(uniforms, 0, jobIndex[r]),
            (HostRole.GlobalIndex, _) => HostTensor.Int64([jobIndex[r].Length], jobIndex[r]),
            _ => throw new InvalidOperationException($"no host value for {role}"),
        };

        // The same start on both: the initial weights, a partly filled queue (labels in [0, 4), so semantic positives exist).
        var initial = TensorFile.Read(Path.Combine(oneDir, InitialWeightsFile));
        var queue = QueueStart(s.QueueCapacity, s.EmbeddingDim, ref rng);
        HostTensor Start(StateEntry e) => queue.TryGetValue(e.Name, out var q) ? q
            : e.Init switch
            {
                StateInit.InitialWeights => initial[e.Name],
                StateInit.CopyOf => initial[e.CopyOf!],
                _ => HostTensor.Filled(e.ElementType, e.Shape, 0),
            };
        using var oneRun = new RankedStep(oneDir, one, 1, Start);
        using var twoRun = new RankedStep(twoDir, two, 2, Start);
        foreach (var graph in new[] { "target", "queue", "pseudolabel" })
        {
            oneRun.Run(graph, (r, role) => Host(r, role, 1));
            twoRun.Run(graph, (r, role) => Host(r, role, 2));
        }

        // Every rank ends with the queue one process has (identical across ranks: they pushed the same gathered values).
        foreach (var name in new[] { QueueEmbeddings, QueueLabels, QueuePointer, QueueCount })
        {
            Assert.Equal(Bytes(twoRun.State[0][name]), Bytes(twoRun.State[1][name]));
            AssertClose(oneRun.State[0][name], twoRun.State[0][name], name);
        }
        Assert.Equal((QueueFill + s.QueuePush) % s.QueueCapacity, oneRun.State[0][QueuePointer].Longs[0]); // the push wrapped

        // Pseudo-labels, positives and the mask: rank r's rows are the one-process rows of its job indices.
        var oneMask = oneRun.Passed[0][PositiveMask];
        for (int r = 0; r < 2; r++)
        {
            Assert.Equal(RankedStep.Rows(oneMask, 0, jobIndex[r]).Floats, twoRun.Passed[r][PositiveMask].Floats);
            Assert.Equal(RankedStep.Rows(oneRun.Passed[0][BatchLabels], 0, jobIndex[r]).Longs, twoRun.Passed[r][BatchLabels].Longs);
            AssertClose(RankedStep.Rows(oneRun.Passed[0][Positives], 0, jobIndex[r]), twoRun.Passed[r][Positives], Positives);
            Assert.Equal(twoRun.Passed[r][PositiveMask].Floats.Sum(), twoRun.Passed[r][PositiveCount].Floats.Single());
        }
        Assert.Equal(B, oneMask.Floats.Sum()); // after the push every image's label is in the queue

        // Images without positives, unevenly spread over the ranks (rank 0 keeps 2 of 6, rank 1 all 6), so the
        // normaliser must be the job's count: the same images lose their positives in both runs.
        long[] without = [0, 1, 2, Bu + 1];
        foreach (var i in without) oneMask.Floats[i] = 0;
        for (int r = 0; r < 2; r++)
        {
            var mask = twoRun.Passed[r][PositiveMask];
            for (int k = 0; k < jobIndex[r].Length; k++) if (without.Contains(jobIndex[r][k])) mask.Floats[k] = 0;
            twoRun.Passed[r][PositiveCount] = HostTensor.Scalar(mask.Floats.Sum());
        }
        Assert.Equal(new[] { 2f, 6f }, twoRun.Passed.Select(p => p[PositiveCount].Floats[0]));

        oneRun.Run("train", (r, role) => Host(r, role, 1));
        twoRun.Run("train", (r, role) => Host(r, role, 2));

        // Loss parts and gradients: the ranks' mean (what the all-reduce takes) is the one-process value; BN running
        // statistics: the ranks' mean is the one-process mean over the groups.
        var train = one.Graphs["train"];
        var compared = train.Outputs.Where(o => o.Kind is IoKind.HostResult or IoKind.StateWritten || o.Name.StartsWith(GradPrefix, StringComparison.Ordinal)).ToList();
        Assert.Contains(compared, o => o.Kind == IoKind.StateWritten);
        Assert.True(compared.Count(o => o.Name.StartsWith(GradPrefix, StringComparison.Ordinal)) > 50);
        // A Linear bias right before a BatchNorm has no gradient in exact arithmetic (the BatchNorm removes it): its
        // gradient is rounding noise, compared on the scale of all gradients instead of its own.
        double gradScale = compared.Where(o => o.Name.StartsWith(GradPrefix, StringComparison.Ordinal))
            .Max(o => oneRun.Outputs[0]["train/" + o.Name].Floats.Max(v => Math.Abs((double)v)));
        int noise = 0;
        foreach (var o in compared)
        {
            string key = "train/" + o.Name;
            var mean = HostTensor.Float(oneRun.Outputs[0][key].Shape,
                twoRun.Outputs[0][key].Floats.Zip(twoRun.Outputs[1][key].Floats, (a, b) => (a + b) / 2).ToArray());
            double scale = oneRun.Outputs[0][key].Floats.Max(v => Math.Abs((double)v));
            if (o.Name.StartsWith(GradPrefix, StringComparison.Ordinal) && scale < 1e-5 * gradScale)
            {
                noise++;
                Assert.True(mean.Floats.Max(v => Math.Abs((double)v)) < 1e-5 * gradScale, $"{o.Name}: zero in exact arithmetic, but not in the ranks' mean");
            }
            else AssertClose(oneRun.Outputs[0][key], mean, o.Name);
        }
        output.WriteLine($"compared {compared.Count} train outputs; {noise} rounding-noise gradients on the gradients' scale");
        Assert.True(noise <= 2, $"{noise} gradients below 1e-5 of the largest: only the two heads' first biases should be");
        Assert.True(oneRun.Outputs[0]["train/" + LossSemanticPositive].Floats[0] > 0);
    }

    [Fact]
    public void One_process_sets_have_no_collective_inputs_and_a_two_rank_set_names_them()
    {
        var single = ArtifactSetWriter.Write(Config(bnGroups: 0), Labelled, Path.Combine(_root, "single"));
        Assert.Equal((1, 1), (single.Shapes.WorldSize, single.Shapes.GroupsPerRank));
        Assert.All(single.Graphs.Values.SelectMany(g => g.Inputs), i =>
        {
            Assert.False(i.Kind is IoKind.Gathered or IoKind.Summed, i.Name);
            Assert.NotEqual(HostRole.GlobalIndex, i.Role);
        });
        Assert.DoesNotContain(single.Graphs.Values.SelectMany(g => g.Outputs), o => o.Name == ArtifactNames.PositiveCount);

        var two = ArtifactSetWriter.Write(Config(bnGroups: 0), Labelled, Path.Combine(_root, "two"), worldSize: 2);
        var s = two.Shapes;
        Assert.Equal((6, 1, 8), (s.Batch, s.GroupsPerRank, s.QueuePush));
        var inputs = two.Graphs.Values.SelectMany(g => g.Inputs).Where(i => i.Kind is IoKind.Gathered or IoKind.Summed || i.Role == HostRole.GlobalIndex)
            .Select(i => (i.Name, i.Kind, i.Tensor, i.DType, string.Join(",", i.Shape))).OrderBy(x => x.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(new (string, IoKind, string?, string, string)[]
        {
            (GlobalIndex, IoKind.HostFed, null, "int64", "6"),
            (PositiveCountSum, IoKind.Summed, PositiveCount, "float", ""),
            (PushEmbeddingsGathered, IoKind.Gathered, PushEmbeddings, "float", "2,4,16"),
            (PushLabelsGathered, IoKind.Gathered, PushLabels, "int64", "2,4"),
            (TargetEmbeddingsGathered, IoKind.Gathered, TargetEmbeddings, "float", "2,2,6,16"),
        }, inputs);
        Assert.Equal(new long[] { 2, 6, 16 }, two.Graphs["target"].Outputs.Single(o => o.Name == TargetEmbeddings).Shape);
        Assert.Equal(new long[] { 2, 6, 7 }, two.Graphs["train"].Inputs.Single(i => i.Name == Negatives).Shape);
        output.WriteLine(string.Join("\n", inputs));
    }

    /// <summary>Relative 1e-5, with an absolute floor of 1e-5 of the tensor's largest magnitude (float rounding of sums).</summary>
    private void AssertClose(HostTensor expected, HostTensor actual, string name)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        if (expected.Type == DType.Int64)
        {
            Assert.Equal(expected.Longs, actual.Longs);
            return;
        }
        var e = expected.Floats;
        var a = actual.Floats;
        double scale = e.Max(v => Math.Abs((double)v)), worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs((double)a[i] - e[i]), tol = 1e-5 * Math.Abs(e[i]) + 1e-5 * scale;
            worst = Math.Max(worst, err / tol);
            Assert.True(err <= tol, $"{name}[{i}]: {a[i]} vs {e[i]} (scale {scale})");
        }
        if (worst > 0.1) output.WriteLine($"{name}: worst error {worst:F3} of its tolerance");
    }

    private static byte[] Bytes(HostTensor t) => t.ToBytes();

    private static HostTensor Normal(ref SplitMix64 rng, params long[] shape)
    {
        var data = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)rng.NextNormal();
        return HostTensor.Float(shape, data);
    }

    /// <summary>[L, B, n]: for each view and image, n distinct other images of the job's batch.</summary>
    private static HostTensor DrawNegatives(ref SplitMix64 rng, int views, int batch, int n)
    {
        var data = new List<long>();
        for (int l = 0; l < views; l++)
            for (int i = 0; i < batch; i++)
            {
                var others = Enumerable.Range(0, batch).Where(j => j != i).Select(j => (long)j).ToList();
                for (int k = 0; k < n; k++)
                {
                    int pick = k + (int)(rng.NextUInt64() % (ulong)(others.Count - k));
                    (others[k], others[pick]) = (others[pick], others[k]);
                    data.Add(others[k]);
                }
            }
        return HostTensor.Int64([views, batch, n], [.. data]);
    }

    private static Dictionary<string, HostTensor> QueueStart(int capacity, int dim, ref SplitMix64 rng)
    {
        var e = new float[capacity * dim];
        for (int i = 0; i < QueueFill; i++)
        {
            var row = new double[dim];
            for (int d = 0; d < dim; d++) row[d] = rng.NextNormal();
            double norm = Math.Sqrt(row.Sum(v => v * v));
            for (int d = 0; d < dim; d++) e[i * dim + d] = (float)(row[d] / norm);
        }
        var labels = new long[capacity];
        for (int i = 0; i < QueueFill; i++) labels[i] = (long)(rng.NextUInt64() % Classes);
        return new()
        {
            [QueueEmbeddings] = HostTensor.Float([capacity, dim], e),
            [QueueLabels] = HostTensor.Int64([capacity], labels),
            [QueuePointer] = HostTensor.Int64([], [QueueFill]),
            [QueueCount] = HostTensor.Int64([], [QueueFill]),
        };
    }
}

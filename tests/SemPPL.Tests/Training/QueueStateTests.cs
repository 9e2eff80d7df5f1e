using SemPPL.Data.Pipeline;
using SemPPL.Trainer.Checkpoints;

namespace SemPPL.Tests.Training;

/// <summary>The queue as the checkpoints of the shared 20-step run hold it (B_l = 4, L = 2, C = 100).</summary>
[Collection(TinyRunCollection.Name)]
public class QueueStateTests(TinyRunFixture run)
{
    [Theory]
    [InlineData(10)] // 80 pushes: not full yet
    [InlineData(20)] // 160 pushes: wrapped around
    public void Count_pointer_and_labels_follow_the_pushes(int steps)
    {
        var setup = run.Setup;
        var s = setup.Manifest.Shapes;
        int L = s.LargeViews, Bl = s.BatchLabelled, C = setup.Resolved.QueueCapacity;
        Assert.Equal((2, 4, 100), (L, Bl, C));

        var store = new CheckpointStore(run.Folder.Root);
        Assert.Contains(steps, store.List().Select(c => c.Step));
        var ckpt = LoadStep(store, steps);
        long pushes = (long)steps * L * Bl;
        Assert.Equal(Math.Min(pushes, C), ckpt["queue.count"].Longs.Single());
        Assert.Equal(pushes % C, ckpt["queue.pointer"].Longs.Single());

        // Replay the labelled stream: push p (p-th entry ever pushed) is step p / (L B_l), view-major within the step.
        var pushed = new List<long>();
        using (var pipeline = new BatchPipeline(setup.Data.Train, setup.Split, setup.Config.Augment, PipelineOptions.From(setup.Config)))
            foreach (var batch in pipeline.Stream(0, steps))
                using (batch)
                {
                    var labelledIndices = batch.Indices.Skip(s.BatchUnlabelled).ToArray();
                    Assert.All(labelledIndices, i => Assert.Contains(i, setup.Split.Indices));
                    Assert.Equal(labelledIndices.Select(i => (long)setup.Data.Train.GetLabel(i)), batch.Labels);
                    for (int v = 0; v < L; v++) pushed.AddRange(batch.Labels);
                }
        var queueLabels = ckpt["queue.labels"].Longs;
        var splitLabels = setup.Split.Indices.Select(i => (long)setup.Data.Train.GetLabel(i)).ToHashSet();
        for (long p = Math.Max(0, pushes - C); p < pushes; p++)
        {
            int slot = (int)(p % C);
            Assert.Equal(pushed[(int)p], queueLabels[slot]);
            Assert.Contains(queueLabels[slot], splitLabels);
        }

        // Valid embeddings are the target's l2-normalised projections: unit vectors. Empty slots stay zero.
        var emb = ckpt["queue.embeddings"].Floats;
        int D = emb.Length / C;
        for (int slot = 0; slot < C; slot++)
        {
            double norm = 0;
            for (int k = 0; k < D; k++) norm += emb[slot * D + k] * emb[slot * D + k];
            if (slot < Math.Min(pushes, C)) Assert.InRange(Math.Sqrt(norm), 0.999, 1.001);
            else Assert.Equal(0, norm);
        }
    }

    private static Checkpoint LoadStep(CheckpointStore store, long step)
    {
        var t = SemPPL.GraphGen.Artifacts.TensorFile.Read(store.PathFor(step));
        return new Checkpoint(step, store.PathFor(step), t.Tensors, t.Metadata);
    }
}

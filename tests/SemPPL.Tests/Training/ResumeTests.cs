using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

[Collection(TinyRunCollection.Name)]
public class ResumeTests(TinyRunFixture straight)
{
    [Fact]
    public void Stopped_and_resumed_run_is_bit_identical_to_the_uninterrupted_one()
    {
        Assert.Equal(20, straight.Result.FinalStep);
        using var run = new TempRun("resumed");
        run.CopyArtifactsFrom(straight.Folder);

        // First trainer: stops at step 10 as a kill right after the checkpoint would leave it.
        var (_, first) = TinyTraining.Run(TinyConfig.Create(), run.Folder, stopAtStep: 10);
        Assert.Equal(10, first.FinalStep);
        var store = new CheckpointStore(run.Root);
        Assert.Equal([10L], store.List().Select(c => c.Step));

        // A new trainer (new sessions, new pipeline) resumes and continues to the end.
        var log = new List<string>();
        var (_, second) = TinyTraining.Run(TinyConfig.Create(), run.Folder, resume: true, log: log);
        Assert.Contains(log, l => l.Contains("resumed from") && l.Contains("step 10"));
        Assert.Equal(10, second.StepsRun);
        Assert.Equal(20, second.FinalStep);

        var expected = new CheckpointStore(straight.Root).LoadLatest()!;
        var actual = store.LoadLatest()!;
        Assert.Equal(20, expected.Step);
        Assert.Equal(20, actual.Step);
        AssertBitIdentical(expected, actual);

        // Metrics rows of steps 10..19 (all but the timing column) are equal too, and none is duplicated.
        var a = MetricsLog.ReadAll(straight.Folder.Metrics).Select(WithoutTiming).ToList();
        var b = MetricsLog.ReadAll(run.Folder.Metrics).Select(WithoutTiming).ToList();
        Assert.Equal(a.Select(m => m.Step), b.Select(m => m.Step));
        Assert.Equal([4L, 9, 14, 19], b.Select(m => m.Step));
        Assert.Equal(a.Where(m => m.Step >= 10), b.Where(m => m.Step >= 10));
    }

    private static StepMetrics WithoutTiming(StepMetrics m) => m with { ImagesPerSecond = 0 };

    /// <summary>Same tensor names in the same order, same types and shapes, same bytes.</summary>
    private static void AssertBitIdentical(Checkpoint expected, Checkpoint actual)
    {
        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        // Every kind of state is in there: online and target weights, optimizer slots, the queue.
        var names = expected.Tensors.Select(t => t.Name).ToList();
        Assert.Contains(names, n => n.StartsWith("online.", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("target.", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("state.", StringComparison.Ordinal));
        Assert.Contains("queue.embeddings", names);
        var differing = new List<string>();
        foreach (var ((name, e), (_, a)) in expected.Tensors.Zip(actual.Tensors))
        {
            Assert.Equal(e.Type, a.Type);
            Assert.Equal(e.Shape, a.Shape);
            if (!e.ToBytes().AsSpan().SequenceEqual(a.ToBytes())) differing.Add(name);
        }
        Assert.True(differing.Count == 0, $"{differing.Count} of {names.Count} state tensors differ after resume: {string.Join(", ", differing.Take(10))}");
    }
}

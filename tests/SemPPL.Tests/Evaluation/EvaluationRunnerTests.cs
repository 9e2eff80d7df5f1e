using System.Text.Json;
using SemPPL.Tests.Training;
using SemPPL.Trainer.Evaluation;

namespace SemPPL.Tests.Evaluation;

[Collection(TinyRunCollection.Name)]
public class EvaluationRunnerTests(TinyRunFixture run)
{
    [Fact]
    public void Evaluation_of_a_short_run_writes_summary_json_with_all_accuracies()
    {
        var log = new List<string>();
        var s = EvaluationRunner.Run(run.Folder, null, log.Add);
        Assert.Equal(20, s.CheckpointStep);
        Assert.Equal(40, s.LabelledImages);
        Assert.Equal(2000, s.TestImages);

        Assert.True(File.Exists(run.Folder.Summary));
        using var doc = JsonDocument.Parse(File.ReadAllText(run.Folder.Summary));
        foreach (var key in new[] { "knnTop1", "linearTop1", "fineTuneTop1" })
        {
            double v = doc.RootElement.GetProperty(key).GetDouble();
            Assert.True(v > 0 && v <= 1, $"{key} = {v} is not in (0, 1]");
        }
        foreach (var key in new[] { "knnTop5", "linearTop5", "fineTuneTop5" })
            Assert.True(doc.RootElement.GetProperty(key).GetDouble() >= doc.RootElement.GetProperty(key.Replace("5", "1")).GetDouble());
        Assert.Equal(20, doc.RootElement.GetProperty("checkpointStep").GetInt64());
        Assert.Equal("cpu", doc.RootElement.GetProperty("settings").GetProperty("device").GetString());
    }

    [Theory]
    [InlineData(100, 256, 300, 1000, 1300)]  // 100 labelled images: one fine-tuning step an epoch
    [InlineData(1000, 256, 300, 1200, 2100)] // 1,000 labelled: 3 full batches of 256 an epoch
    public void The_supervised_baseline_gets_the_SemPPL_models_whole_optimizer_budget(int labelled, int batch, int epochs, int trainingSteps, int expected)
    {
        var c = new SemPPL.Config.SemPPLConfig();
        c.Eval.BatchSize = batch; c.Eval.FineTuneEpochs = epochs;
        Assert.Equal(expected, SupervisedBaseline.DefaultSteps(c, trainingSteps, labelled));
    }
}

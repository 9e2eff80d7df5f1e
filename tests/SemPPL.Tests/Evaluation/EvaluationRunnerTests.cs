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
}

using SemPPL.Tests.TestConfigs;

namespace SemPPL.Tests.Cli;

public class CliTests
{
    [Theory]
    [InlineData("name: lars", "name: adam", "optimizer.name", "'adam'")]
    [InlineData("batch_unlabelled: 16", "batch_unlabelled: abc", "training.batch_unlabelled", "'abc'")]
    [InlineData("labels_per_class: 4", "labels_per_class: 4\n  label_fraction: 0.1", "data: exactly one of labels_per_class, label_fraction, label_file", "label_fraction (0.1)")]
    public void Train_with_a_bad_config_value_names_the_key_and_writes_nothing(string good, string bad, string key, string value)
    {
        using var run = new TempRun("cli-bad");
        Assert.Contains(good, TinyConfig.Yaml);
        string config = Path.Combine(Path.GetTempPath(), $"semppl-bad-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(config, TinyConfig.Yaml.Replace(good, bad));
        try
        {
            var (code, stdout, stderr) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval");
            Assert.NotEqual(0, code);
            Assert.Contains(key, stderr);
            Assert.Contains(value, stderr);
            Assert.StartsWith("semppl: ", stderr);
            Assert.DoesNotContain("   at ", stderr); // a message, not a stack trace
            Assert.False(Directory.Exists(Path.Combine(run.Root, "checkpoints")), "checkpoints were created for a bad config");
            Assert.False(File.Exists(run.Folder.Split));
        }
        finally { File.Delete(config); }
    }

    [Fact]
    public void Eval_of_a_folder_that_is_not_a_run_says_so()
    {
        using var run = new TempRun("cli-notrun");
        Directory.CreateDirectory(run.Root);
        var (code, _, stderr) = SempplProcess.Run("eval", "--run", run.Root);
        Assert.NotEqual(0, code);
        Assert.Contains("is not a run folder", stderr);
        Assert.Contains(run.Root, stderr);
        Assert.DoesNotContain("   at ", stderr);

        var (code2, _, stderr2) = SempplProcess.Run("eval", "--run", Path.Combine(run.Root, "missing"));
        Assert.NotEqual(0, code2);
        Assert.Contains("is not a run folder", stderr2);
    }
}

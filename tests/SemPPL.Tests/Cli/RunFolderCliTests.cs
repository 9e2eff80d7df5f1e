using SemPPL.Tests.TestConfigs;
using SemPPL.Tests.Training;
using SemPPL.Trainer.Checkpoints;

namespace SemPPL.Tests.Cli;

/// <summary>
/// A run folder belongs to one run and one process: `semppl train` never mixes a new run with an old one's files,
/// never writes before every check passed, and refuses a resume that would not continue the run exactly.
/// Each test works on a copy of the shared 20-step tiny run (checkpoints 10 and 20), whose config is TinyConfig.Yaml.
/// </summary>
[Collection(TinyRunCollection.Name)]
public class RunFolderCliTests(TinyRunFixture straight)
{
    private static long[] Steps(TempRun run) => new CheckpointStore(run.Root).List().Select(c => c.Step).ToArray();

    private TempRun CopyOfStraight(string tag)
    {
        var run = new TempRun(tag);
        run.CopyRunFrom(straight.Folder);
        return run;
    }

    [Fact]
    public void A_new_run_into_a_folder_that_holds_a_run_is_refused_and_force_starts_it_over()
    {
        using var run = CopyOfStraight("cli-owned");
        string config = run.WriteConfig();
        byte[] configBefore = File.ReadAllBytes(run.Folder.Config);
        string metricsBefore = File.ReadAllText(run.Folder.Metrics);

        var (code, _, stderr) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval", "--steps", "5");
        Assert.Equal(2, code);
        Assert.StartsWith($"semppl: {run.Root} already holds a run", stderr);
        Assert.Contains("--resume", stderr);
        Assert.Contains("--force", stderr);
        Assert.Equal([10L, 20], Steps(run));
        Assert.Equal(configBefore, File.ReadAllBytes(run.Folder.Config));
        Assert.Equal(metricsBefore, File.ReadAllText(run.Folder.Metrics));

        var (forced, stdout, err) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval", "--steps", "5", "--force");
        Assert.True(forced == 0, err);
        Assert.Contains("--force: removing the earlier run's outputs", stdout);
        Assert.Equal([5L], Steps(run));   // the old run's checkpoints 10 and 20 are gone, not "newer" than the new run's
        Assert.Equal([4L], Trainer.Training.MetricsLog.ReadAll(run.Folder.Metrics).Select(m => m.Step));
    }

    [Fact]
    public void A_refused_resume_writes_nothing()
    {
        using var run = CopyOfStraight("cli-refused");
        string config = run.WriteConfig(TinyConfig.Yaml.Replace("width: 0.0625", "width: 0.125"));
        var before = Directory.GetFiles(run.Root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);

        var (code, _, stderr) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval", "--resume");

        Assert.Equal(2, code);
        Assert.Contains("model.width: 0.0625 -> 0.125", stderr);
        var after = Directory.GetFiles(run.Root, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".semppl.lock")).ToList();
        Assert.Equal(before.Keys.Order(), after.Order());
        foreach (var f in after) Assert.True(before[f].AsSpan().SequenceEqual(File.ReadAllBytes(f)), $"{f} was rewritten");
    }

    [Theory]
    [InlineData("--set", "seed=1", "seed: 0 -> 1")]
    [InlineData("--steps", "40", "training.steps: 20 -> 40")]
    [InlineData("--set", "augment.flip_probability=0", "augment.flip_probability: 0.5 -> 0.0")]
    public void A_resume_with_a_key_that_changes_the_computation_is_refused_naming_it(string option, string value, string change)
    {
        using var run = CopyOfStraight("cli-changed");
        var (code, _, stderr) = SempplProcess.Run("train", "--config", run.WriteConfig(), "--out", run.Root, "--no-eval", "--resume", option, value);
        Assert.Equal(2, code);
        Assert.StartsWith("semppl: resume: the config differs", stderr);
        Assert.Contains(change, stderr);
        Assert.Equal([10L, 20], Steps(run));
    }

    [Fact]
    public void A_resume_may_change_how_the_run_is_logged_and_says_so()
    {
        using var run = CopyOfStraight("cli-free");
        var (code, stdout, stderr) = SempplProcess.Run("train", "--config", run.WriteConfig(), "--out", run.Root, "--no-eval", "--resume",
            "--set", "training.log_every=2", "--set", "data.workers=2");
        Assert.True(code == 0, stderr);
        Assert.Contains("resume: training.log_every: 5 -> 2 (allowed", stdout);
        Assert.Contains("resume: data.workers: 1 -> 2 (allowed", stdout);
        Assert.Contains("resumed from ckpt-00000020.spt at step 20", stdout);
    }

    [Fact]
    public void A_resume_whose_checkpoints_are_all_unreadable_is_refused_unless_forced()
    {
        using var run = CopyOfStraight("cli-corrupt");
        foreach (var (_, path) in new CheckpointStore(run.Root).List())
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
            f.Seek(f.Length / 2, SeekOrigin.Begin);
            f.Write(new byte[64]);
        }
        var corrupt = Directory.GetFiles(run.Folder.Checkpoints).ToDictionary(f => f, File.ReadAllBytes);
        string config = run.WriteConfig();

        var (code, stdout, stderr) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval", "--resume");
        Assert.Equal(2, code);
        Assert.StartsWith("semppl: resume: none of the 2 checkpoint(s)", stderr);
        Assert.Contains("--force", stderr);
        Assert.Contains("warning: skipping checkpoint", stdout);
        Assert.DoesNotContain("warning: warning:", stdout);
        foreach (var (f, bytes) in corrupt) Assert.Equal(bytes, File.ReadAllBytes(f));   // not overwritten by a restart

        var (forced, out2, err2) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval", "--resume", "--force");
        Assert.True(forced == 0, err2);
        Assert.Contains("--force: starting over from step 0", out2);
        Assert.Equal([10L, 20], Steps(run));
        Assert.NotNull(new CheckpointStore(run.Root).LoadLatest());
    }

    [Fact]
    public void A_second_process_on_a_folder_in_use_is_refused_and_a_killed_ones_lock_does_not_block()
    {
        using var run = new TempRun("cli-lock");
        run.CopyArtifactsFrom(straight.Folder);
        string config = run.WriteConfig();
        using (var first = SempplProcess.Start(["train", "--config", config, "--out", run.Root, "--no-eval", "--steps", "100000", "--set", "training.log_every=1"]))
        {
            first.WaitUntil(() => File.Exists(run.Folder.Metrics) && File.ReadAllText(run.Folder.Metrics).Length > 0, "a logged step", TimeSpan.FromSeconds(90));
            foreach (var args in new[]
                     {
                         new[] { "train", "--config", config, "--out", run.Root, "--no-eval", "--resume", "--steps", "100000" },
                         new[] { "eval", "--run", run.Root },
                         new[] { "export", "--run", run.Root, "--out", run.Root + ".onnx" },
                     })
            {
                var (code, _, stderr) = SempplProcess.Run(args);
                Assert.True(code == 5, $"{args[0]}: exit {code}: {stderr}");
                Assert.StartsWith($"semppl: {run.Root} is in use by another semppl process", stderr);
            }
            first.Signal(RunningSemppl.SigKill);
            first.WaitForExit(TimeSpan.FromSeconds(30));
        }
        Assert.True(File.Exists(run.Folder.LockFile));   // left behind by the killed process, and not in the way:
        var (again, _, err) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval", "--steps", "5", "--force");
        Assert.True(again == 0, err);
        Assert.Equal([5L], Steps(run));
    }

    [Fact]
    public void File_system_errors_are_one_message_naming_the_path()
    {
        using var run = new TempRun("cli-fs");
        string config = run.WriteConfig();
        // An --out that cannot be created: its parent is a file.
        string file = run.Root + ".file";
        File.WriteAllText(file, "x");
        try
        {
            var (code, _, stderr) = SempplProcess.Run("train", "--config", config, "--out", Path.Combine(file, "run"), "--no-eval");
            Assert.Equal(1, code);
            Assert.StartsWith($"semppl: cannot create the run folder {Path.Combine(file, "run")}", stderr);
            Assert.DoesNotContain("   at ", stderr);
        }
        finally { File.Delete(file); }

        // A full disk: split.json is written to /dev/full, which answers every write with ENOSPC.
        if (!File.Exists("/dev/full")) return;
        Directory.CreateDirectory(run.Root);
        File.CreateSymbolicLink(run.Folder.Split, "/dev/full");
        var (full, _, err) = SempplProcess.Run("train", "--config", config, "--out", run.Root, "--no-eval");
        Assert.Equal(1, full);
        Assert.StartsWith("semppl: ", err);
        Assert.Contains("No space left on device", err);
        Assert.Contains("split.json", err);
        Assert.DoesNotContain("   at ", err);
    }
}

using System.Text.RegularExpressions;
using SemPPL.Tests.TestConfigs;
using SemPPL.Tests.Training;
using SemPPL.Trainer.Checkpoints;

namespace SemPPL.Tests.Cli;

/// <summary>SIGTERM / SIGINT during `semppl train`: the step reached is checkpointed, said, and resumable.</summary>
[Collection(TinyRunCollection.Name)]
public partial class SignalCliTests(TinyRunFixture straight)
{
    [Theory]
    [InlineData(RunningSemppl.SigTerm, "SIGTERM")]
    [InlineData(RunningSemppl.SigInt, "SIGINT")]
    public void A_signal_checkpoints_the_step_reached_exits_6_and_resume_continues(int signal, string name)
    {
        using var run = new TempRun("cli-signal");
        run.CopyArtifactsFrom(straight.Folder);
        string config = run.WriteConfig();
        string[] train = ["train", "--config", config, "--out", run.Root, "--no-eval", "--steps", "60",
                          "--set", "training.log_every=1", "--set", "training.checkpoint_every=1000"];
        int stoppedAt;
        using (var p = SempplProcess.Start(train))
        {
            p.WaitUntil(() => File.Exists(run.Folder.Metrics) && File.ReadAllText(run.Folder.Metrics).Length > 0, "a logged step", TimeSpan.FromSeconds(90));
            p.Signal(signal);
            var (code, _, stderr) = p.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(code == 6, $"exit {code}: {stderr}");
            Assert.Contains($"semppl: {name}: stopping after the current step", stderr);
            var m = StoppedMessage().Match(stderr);
            Assert.True(m.Success, stderr);
            stoppedAt = int.Parse(m.Groups[1].Value);
            Assert.Contains("--resume` continues", stderr);
        }
        Assert.InRange(stoppedAt, 1, 59);
        Assert.Equal([(long)stoppedAt], new CheckpointStore(run.Root).List().Select(c => c.Step));

        var (resumed, stdout, err) = SempplProcess.Run([.. train, "--resume"]);
        Assert.True(resumed == 0, err);
        Assert.Contains($"resumed from {CheckpointStore.FileName(stoppedAt)} at step {stoppedAt}", stdout);
        Assert.Equal(60, new CheckpointStore(run.Root).LoadLatest()!.Step);
    }

    [Fact]
    public void A_second_signal_stops_at_once_without_a_checkpoint()
    {
        using var run = new TempRun("cli-signal2");
        // A batch large enough that a step outlasts the time between the two signals.
        string[] train = ["train", "--config", run.WriteConfig(), "--out", run.Root, "--no-eval", "--steps", "60",
                          "--set", "training.batch_unlabelled=256", "--set", "training.batch_labelled=8",
                          "--set", "training.log_every=1", "--set", "training.checkpoint_every=1000"];
        using var p = SempplProcess.Start(train);
        p.WaitUntil(() => File.Exists(run.Folder.Metrics) && File.ReadAllText(run.Folder.Metrics).Length > 0, "a logged step", TimeSpan.FromSeconds(120));
        p.Signal(RunningSemppl.SigTerm);
        p.WaitUntil(() => p.StdErr.Contains("stopping after the current step"), "the first signal's message", TimeSpan.FromSeconds(30));
        p.Signal(RunningSemppl.SigTerm);
        var (code, _, stderr) = p.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.True(code == 128 + RunningSemppl.SigTerm, $"exit {code}: {stderr}");
        Assert.Contains("semppl: second SIGTERM: stopping now", stderr);
        Assert.Empty(new CheckpointStore(run.Root).List());
    }

    [GeneratedRegex(@"stopped after step (\d+) and wrote checkpoint \S+ckpt-\d+\.spt")]
    private static partial Regex StoppedMessage();
}

using SemPPL.Distributed.Tests;
using SemPPL.Tests.TestConfigs;

namespace SemPPL.Tests.DataParallel;

/// <summary>
/// semppl train as an Open MPI job of 1 and 2 ranks on the tiny config (2 ranks of 8 + 2 images on 2 cores, each with
/// one ONNX Runtime thread): the job computes what one process computes, a killed rank ends the job with a message
/// naming it, and the job resumes from its last checkpoint to the state an uninterrupted job reaches.
/// </summary>
[Collection("mpirun")]
public class DataParallelTrainingTests
{
    private static string Config(TempRun run, int steps, int checkpointEvery, string? bnGroups = null)
    {
        string yaml = TinyConfig.Yaml
            .Replace("steps: 20", $"steps: {steps}")
            .Replace("warmup_steps: 5", "warmup_steps: 2")
            .Replace("log_every: 5", "log_every: 1")
            .Replace("checkpoint_every: 10", $"checkpoint_every: {checkpointEvery}")
            .Replace("device: cpu", "device: cpu\nthreads: 1");
        if (bnGroups is not null) yaml = yaml.Replace("  ema_base: 0.99", $"  ema_base: 0.99\n  bn_groups: {bnGroups}");
        return run.WriteConfig(yaml);
    }

    private static string[] Train(string config, string root, params string[] more) => ["train", "--config", config, "--out", root, .. more];

    [MpirunFact]
    public void World_size_one_through_the_job_path_is_bit_identical_to_one_process()
    {
        using var plain = new TempRun("dp-plain");
        using var job = new TempRun("dp-job1");
        var p = SemPPL.Tests.Cli.SempplProcess.Run(Train(Config(plain, 4, 4), plain.Root));
        Assert.True(p.ExitCode == 0, p.StdErr);
        var j = MpirunJob.Run(1, Train(Config(job, 4, 4), job.Root), "SEMPPL_DISTRIBUTED=1");
        Assert.True(j.ExitCode == 0, j.StdOut + j.StdErr);
        Assert.Contains("rank 0 of 1", j.StdOut);
        Assert.Equal(File.ReadAllBytes(Path.Combine(plain.Root, "checkpoints", "ckpt-00000004.spt")),
                     File.ReadAllBytes(Path.Combine(job.Root, "checkpoints", "ckpt-00000004.spt")));
        Assert.Equal(MpirunJob.LossParts(plain.Root).SelectMany(x => x), MpirunJob.LossParts(job.Root).SelectMany(x => x));
    }

    [MpirunFact]
    public void Two_ranks_with_half_the_batch_each_match_one_process_with_two_batchnorm_groups()
    {
        using var one = new TempRun("dp-ghost");
        using var two = new TempRun("dp-ranks");
        var p = SemPPL.Tests.Cli.SempplProcess.Run(Train(Config(one, 3, 3, bnGroups: "2"), one.Root));
        Assert.True(p.ExitCode == 0, p.StdErr);
        // bn_groups unset: one group per rank (per-replica BatchNorm), which at 2 ranks is 2 groups of the job's batch.
        var j = MpirunJob.Run(2, Train(Config(two, 3, 3), two.Root));
        Assert.True(j.ExitCode == 0, j.StdOut + j.StdErr);
        Assert.True(Directory.Exists(Path.Combine(two.Root, "ranks", "1", "artifacts")), "rank 1 keeps its artifact set in its own folder");
        Assert.False(Directory.Exists(Path.Combine(two.Root, "ranks", "1", "checkpoints")) &&
                     Directory.EnumerateFiles(Path.Combine(two.Root, "ranks", "1", "checkpoints")).Any(), "rank 1 wrote checkpoints");

        var a = MpirunJob.LossParts(one.Root);
        var b = MpirunJob.LossParts(two.Root);
        Assert.Equal(3, a.Count);
        Assert.Equal(a.Count, b.Count);
        for (int s = 0; s < a.Count; s++)
            for (int k = 0; k < a[s].Length; k++)
                Assert.True(Math.Abs(a[s][k] - b[s][k]) <= 1e-5 * Math.Max(1e-3, Math.Abs(a[s][k])),
                    $"step {a[s][0]}, metric {k}: one process {a[s][k]:R}, two ranks {b[s][k]:R}");
        // 1e-5 of each tensor's magnitude; the 1e-7 floor is for the momentum of biases that feed a BatchNorm, whose true
        // gradient is zero: they hold float rounding noise of about 1e-8 that the two reductions round differently.
        var differences = MpirunJob.Differences(MpirunJob.Checkpoint(one.Root, 3), MpirunJob.Checkpoint(two.Root, 3), relative: 1e-5, absolute: 1e-7);
        Assert.True(differences.Count == 0, "state after 3 steps: " + string.Join("; ", differences));

        // Evaluation (one process, rank 0's folder) uses the 2-rank run's artifact set as it is.
        var e = SemPPL.Tests.Cli.SempplProcess.Run("eval", "--run", two.Root);
        Assert.True(e.ExitCode == 0, e.StdErr);
        Assert.DoesNotContain("regenerating", e.StdOut);
        Assert.Contains("fine-tune", e.StdOut);
    }

    [MpirunFact]
    public void A_killed_rank_ends_the_job_with_its_name_and_the_job_resumes_to_the_uninterrupted_state()
    {
        using var whole = new TempRun("dp-whole");
        using var killed = new TempRun("dp-killed");
        var w = MpirunJob.Run(2, Train(Config(whole, 12, 6), whole.Root));
        Assert.True(w.ExitCode == 0, w.StdOut + w.StdErr);

        string config = Config(killed, 12, 6);
        string rank1Lock = Path.Combine(killed.Root, "ranks", "1", ".semppl.lock");
        using (var job = MpirunJob.Start(2, Train(config, killed.Root)))
        {
            job.WaitUntil(() => File.Exists(Path.Combine(killed.Root, "checkpoints", "ckpt-00000006.spt")), "the step-6 checkpoint", TimeSpan.FromSeconds(180));
            int rank1 = ProcessHolding(rank1Lock);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(0, kill(rank1, 9));
            var (code, stdout, stderr) = job.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, code);
            Assert.Matches(@"rank 1\b", stdout + stderr);
        }
        Assert.True(File.Exists(Path.Combine(killed.Root, "checkpoints", "ckpt-00000006.spt")), "the last checkpoint is gone");

        var r = MpirunJob.Run(2, Train(config, killed.Root, "--resume"));
        Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
        Assert.Contains("resumed from ckpt-", r.StdOut);
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole.Root, "checkpoints", "ckpt-00000012.spt")),
                     File.ReadAllBytes(Path.Combine(killed.Root, "checkpoints", "ckpt-00000012.spt")));
    }

    [MpirunFact]
    public void A_refusal_on_rank_0_stops_every_rank_before_training()
    {
        using var run = new TempRun("dp-refused");
        string config = Config(run, 4, 4);
        Directory.CreateDirectory(run.Root);
        File.WriteAllText(run.Folder.Config, "name: an earlier run\n");
        var (code, stdout, stderr) = MpirunJob.Run(2, Train(config, run.Root));
        Assert.NotEqual(0, code);
        Assert.Contains("already holds a run; give --resume", stderr);
        Assert.Contains("rank 1 of 2: rank 0 refused to start the run", stderr);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.Equal("name: an earlier run\n", File.ReadAllText(run.Folder.Config));
        Assert.False(Directory.Exists(Path.Combine(run.Root, "ranks", "1", "artifacts")), "rank 1 generated artifacts for a refused run");
    }

    [MpirunFact]
    public void Sigusr1_to_mpirun_stops_every_rank_after_the_same_step_with_a_checkpoint()
    {
        using var run = new TempRun("dp-sigterm");
        string config = Config(run, 400, 1000);
        using var job = MpirunJob.Start(2, Train(config, run.Root));
        job.WaitUntil(() => File.Exists(run.Folder.Metrics) && File.ReadAllLines(run.Folder.Metrics).Length >= 3, "3 logged steps", TimeSpan.FromSeconds(180));
        // mpirun forwards SIGUSR1 to every rank and lets them finish (its SIGTERM kills them a second later).
        job.Signal(10);
        var (code, stdout, stderr) = job.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.True(code == 6, $"exit {code}: {stdout}{stderr}");
        Assert.Contains("SIGUSR1: stopped after step", stderr);
        Assert.Contains("the same launch of `semppl train", stderr);
        var checkpoints = Directory.GetFiles(run.Folder.Checkpoints, "ckpt-*.spt");
        Assert.Single(checkpoints);
        Assert.DoesNotContain("   at ", stdout + stderr);
    }

    [MpirunFact]
    public void Ranks_that_would_train_different_models_are_stopped_before_the_first_step()
    {
        using var run = new TempRun("dp-mismatch");
        string config = Config(run, 4, 4);
        string other = Path.Combine(Path.GetDirectoryName(config)!, Path.GetFileNameWithoutExtension(config) + "-seed1.yaml");
        File.WriteAllText(other, File.ReadAllText(config).Replace("seed: 0", "seed: 1"));
        try
        {
            // mpirun's multi-program form: rank 0 runs the config, rank 1 the same config with another seed (other initial weights).
            string[] rank0 = [MpirunJob.Executable!, "-np", "1", "--oversubscribe", "-x", "NO_COLOR=1", "dotnet", SemPPL.Tests.Cli.SempplProcess.Dll(),
                              .. Train(config, run.Root), ":", "-np", "1"];
            using var job = SemPPL.Tests.Cli.SempplProcess.Start(Train(other, run.Root), rank0, MpirunJob.AsRoot);
            var (code, stdout, stderr) = job.WaitForExit(TimeSpan.FromSeconds(180));
            Assert.NotEqual(0, code);
            Assert.Contains("the ranks do not start alike: rank 1's artifact set differs from rank 0's", stderr);
            Assert.Contains("rank 1's starting state differs from rank 0's", stderr);
            Assert.DoesNotContain("   at ", stdout + stderr);
            Assert.False(File.Exists(run.Folder.Metrics) && File.ReadAllLines(run.Folder.Metrics).Length > 0, "a step was logged");
        }
        finally { File.Delete(other); }
    }

    /// <summary>The process that has <paramref name="path"/> open (rank 1 holds its folder's lock file for the whole run).</summary>
    private static int ProcessHolding(string path)
    {
        string full = Path.GetFullPath(path);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var proc in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(proc), out int pid)) continue;
                try
                {
                    foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(proc, "fd")))
                        if (new FileInfo(fd).LinkTarget == full) return pid;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            Thread.Sleep(100);
        }
        Assert.Fail($"no process holds {full}");
        return 0;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}

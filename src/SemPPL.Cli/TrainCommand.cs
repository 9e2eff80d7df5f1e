using System.CommandLine;
using SemPPL.Config;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.DataParallel;
using SemPPL.Trainer.Training;
using Spectre.Console;

namespace SemPPL.Cli;

internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "YAML config (configs/*.yaml; keys in docs/config.md)", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Run folder (default runs/<config name>)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint of the run folder" };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the evaluation at the end (training.eval_at_end)" };
        var steps = CliOptions.Steps("Override training.steps");
        var device = new Option<string?>("--device") { Description = "Override device: auto | cpu | cuda | cuda:N" };
        var force = CliOptions.Force();
        var set = new Option<string[]>("--set") { Description = "Override a config key, e.g. --set objective.alpha=0 (repeatable; value is YAML)", AllowMultipleArgumentsPerToken = false };
        var profile = new Option<bool>("--profile") { Description = "Print the share of each graph in the step" };
        var cmd = new Command("train", "Train SemPPL on a config: regenerates the artifact set when needed, checkpoints, logs metrics.jsonl and plots")
        {
            config, output, resume, force, noEval, steps, device, profile, set,
        };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            string configPath = parse.GetValue(config)!.FullName;
            var overrides = new List<string>(parse.GetValue(set) ?? []);
            if (parse.GetValue(steps) is { } s) overrides.Add($"training.steps={s}");
            if (parse.GetValue(device) is { } d) overrides.Add($"device='{d.Replace("'", "''")}'");
            var cfg = ConfigOverrides.Load(configPath, overrides);
            ConfigValidator.Validate(cfg, configPath);
            var folder = new RunFolder(parse.GetValue(output)?.FullName ?? Path.Combine("runs", cfg.Name));
            using var signals = new SignalStop();
            var job = JobLaunch.Open(cfg);
            TrainingResult result = null!;
            using (job)
            {
                var log = JobLaunch.RankLog(job, Log);
                // Rank 0 owns the run folder; another rank locks only its own folder under it (its artifact set).
                var lockFolder = job is null || job.IsPrimary ? folder : new RunFolder(TrainingJob.RankFolder(folder.Root, job.Rank));
                using var folderLock = RunFolderLock.Acquire(lockFolder, RunFolderAccess.Exclusive);
                var setup = job is null
                    ? RunSetup.Prepare(cfg, folder, parse.GetValue(resume), log, parse.GetValue(force))
                    : JobSetup.Prepare(job, cfg, folder, parse.GetValue(resume), parse.GetValue(force), log);
                log($"data: {setup.Data.Train.Name} ({setup.Data.Train.Count:N0} images, {setup.Split.Count:N0} labelled); " +
                    $"{setup.Resolved.TotalSteps:N0} steps of {setup.Resolved.TotalBatch} images{(job is null ? "" : $" over {job.WorldSize} rank(s)")}; run folder {folder.Root}");
                var options = new TrainingOptions
                {
                    Resume = parse.GetValue(resume),
                    Stop = signals.Request,
                    ProfileGraphs = parse.GetValue(profile),
                    Job = job,
                };
                if (job is not null && !job.IsPrimary)
                {
                    // Rank 0 reports a stop (exit 6) for the job: a non-zero exit here could make the launcher end rank 0 first.
                    SemPPLTrainer.Train(setup, options with { Log = log });
                    return 0;
                }
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("training", maxValue: setup.Resolved.TotalSteps);
                        result = SemPPLTrainer.Train(setup, options with
                        {
                            Log = m => AnsiConsole.MarkupLine(Markup.Escape(m)),
                            Progress = p =>
                            {
                                task.Value = p.Step;
                                var m = p.Latest;
                                string pl = m.PseudoLabelAccuracy is { } a ? $" pl-acc {a:P0}" : "";
                                task.Description = Markup.Escape($"ep {p.Epoch:F1} step {p.Step}/{p.TotalSteps} loss {m.Loss:F3}{pl} {m.ImagesPerSecond:F0} img/s");
                            },
                        });
                    });
            }
            // The job's engines have ended here (every rank finished training); evaluation runs on rank 0 alone.
            if (result.Interrupted)
                return CliErrors.Fail($"{signals.Request.Reason ?? "a stop request on another rank"}: stopped after step {result.FinalStep} and wrote checkpoint " +
                                      $"{Path.Combine(folder.Checkpoints, CheckpointStore.FileName(result.FinalStep))}; " +
                                      (job is null ? $"`semppl train --config {configPath} --out {folder.Root} --resume` continues"
                                                   : $"the same launch of `semppl train --config {configPath} --out {folder.Root} --resume` continues"),
                                      CliErrors.Interrupted);
            Log($"trained {result.StepsRun} steps ({result.ImagesPerSecond:F0} images/s); {result.DataSummary}");
            if (result.Timings is { } t) Log(StepProfile.Format(t));
            TrainingPlots.Write(folder);
            Log($"metrics: {folder.Metrics}; plots: {folder.LossPlot}, {folder.AccuracyPlot}");
            if (signals.Request.IsRequested)
                return CliErrors.Fail($"{signals.Request.Reason}: training finished (checkpoint step {result.FinalStep}); stopped before the evaluation: " +
                                      $"`semppl eval --run {folder.Root}` runs it", CliErrors.Interrupted);
            if (cfg.Training.EvalAtEnd && !parse.GetValue(noEval))
                EvalCommand.RunAndPrint(folder, null);
            return 0;
        }));
        return cmd;
    }

    internal static void Log(string m) => Console.WriteLine(m);
}

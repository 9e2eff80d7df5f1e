using System.CommandLine;
using SemPPL.Config;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

internal static class BaselineCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "The SemPPL config whose network, labelled split and step budget the baseline uses", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Run folder (default runs/<config name>-supervised)" };
        var steps = CliOptions.Steps("Optimizer steps (default: the SemPPL model's whole budget, training.steps + fine-tuning steps)");
        var force = CliOptions.Force();
        var device = new Option<string?>("--device") { Description = "Override device: auto | cpu | cuda | cuda:N" };
        var set = new Option<string[]>("--set") { Description = "Override a config key, e.g. --set objective.alpha=0 (repeatable; value is YAML)", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("baseline", "Supervised-only baseline: the same network trained on the labelled images alone for as many optimizer steps as the SemPPL model gets (training + fine-tuning); writes baseline.json")
        {
            config, output, force, steps, device, set,
        };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            SingleProcessLaunch.Require();
            string configPath = parse.GetValue(config)!.FullName;
            var overrides = new List<string>(parse.GetValue(set) ?? []);
            if (parse.GetValue(device) is { } d) overrides.Add($"device='{d.Replace("'", "''")}'");
            var cfg = ConfigOverrides.Load(configPath, overrides);
            ConfigValidator.Validate(cfg, configPath);
            var folder = new RunFolder(parse.GetValue(output)?.FullName ?? Path.Combine("runs", cfg.Name + "-supervised"));
            using var folderLock = RunFolderLock.Acquire(folder, RunFolderAccess.Exclusive);
            var setup = RunSetup.Prepare(cfg, folder, resume: false, TrainCommand.Log, parse.GetValue(force));
            SupervisedBaseline.Run(folder, parse.GetValue(device), parse.GetValue(steps) ?? SupervisedBaseline.DefaultSteps(cfg, (int)setup.Resolved.TotalSteps, setup.Split.Count), TrainCommand.Log);
            return 0;
        }));
        return cmd;
    }
}

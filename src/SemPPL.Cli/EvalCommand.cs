using System.CommandLine;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

internal static class EvalCommand
{
    public static Command Create()
    {
        var run = new Option<DirectoryInfo>("--run") { Description = "Run folder written by `semppl train`", Required = true };
        var device = new Option<string?>("--device") { Description = "Override device: auto | cpu | cuda | cuda:N" };
        var set = new Option<string[]>("--set") { Description = "Override an eval.* key, e.g. --set eval.fine_tune_epochs=300 (repeatable)" };
        var cmd = new Command("eval", "k-NN, linear-probe and fine-tune top-1/top-5 of a run's newest checkpoint on the test split; writes summary.json")
        {
            run, device, set,
        };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            SingleProcessLaunch.Require();
            var folder = new RunFolder(parse.GetValue(run)!.FullName);
            EvaluationContext.RequireRunFolder(folder);
            using var folderLock = RunFolderLock.Acquire(folder, RunFolderAccess.Exclusive);
            RunAndPrint(folder, parse.GetValue(device), parse.GetValue(set) ?? []);
            return 0;
        }));
        return cmd;
    }

    public static void RunAndPrint(RunFolder folder, string? device, IReadOnlyList<string>? evalOverrides = null)
    {
        var s = EvaluationRunner.Run(folder, device, TrainCommand.Log, evalOverrides);
        Console.WriteLine($"k-NN top-1 {s.KnnTop1:P2} | linear top-1 {s.LinearTop1:P2} | fine-tune top-1 {s.FineTuneTop1:P2} " +
                          $"(test {s.TestImages:N0} images, {s.LabelledImages:N0} labelled; checkpoint step {s.CheckpointStep}) -> {folder.Summary}");
    }
}

using System.CommandLine;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Export;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

internal static class ExportCommand
{
    public static Command Create()
    {
        var run = new Option<DirectoryInfo>("--run") { Description = "Run folder written by `semppl train` (or `semppl baseline`)", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Path of the deployable ONNX model", Required = true };
        var from = new Option<string?>("--from") { Description = "Which network: finetune (default when `semppl eval` kept one) | linear | online | encoder | supervised (default in a baseline run)" };
        from.AcceptOnlyFromAmong(ModelHeads.Names);
        var noClassifier = new Option<bool>("--no-classifier") { Description = "Embedding output only (drop the classifier's logits)" };
        var preprocess = new Option<bool>("--preprocess") { Description = "The graph takes uint8 NHWC pixels and normalises them itself (clients only crop and resize)" };
        var cmd = new Command("export", "Write the deployable model: opset 17, dynamic batch, BatchNorm folded, embedding (+ logits) outputs, self-describing metadata; checked against eval.onnx")
        {
            run, output, from, noClassifier, preprocess,
        };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            SingleProcessLaunch.Require();
            var options = new ExportOptions(parse.GetValue(from) is { } f ? ModelHeads.Parse(f) : null, !parse.GetValue(noClassifier), parse.GetValue(preprocess));
            var folder = new RunFolder(parse.GetValue(run)!.FullName);
            EvaluationContext.RequireRunFolder(folder);
            using var folderLock = RunFolderLock.Acquire(folder, RunFolderAccess.Shared);
            var r = ExportRunner.Run(folder, parse.GetValue(output)!.FullName, options, TrainCommand.Log);
            string top1 = r.Metadata.TestTop1 is { } t ? $"test top-1 {t:P2} on {r.Metadata.TestImages:N0} images" : "test top-1 not measured";
            Console.WriteLine($"exported {r.Head.Describe()} ({top1}; checkpoint step {r.CheckpointStep}; input {r.Metadata.InputType} {r.Metadata.InputLayout})");
            Console.WriteLine($"{r.Path}: {r.Bytes:N0} bytes, {r.FoldedBatchNorms} BatchNorms folded, max |diff| {r.MaxAbsDifference:E2}");
            return 0;
        }));
        return cmd;
    }
}

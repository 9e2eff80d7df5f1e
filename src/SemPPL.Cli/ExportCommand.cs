using System.CommandLine;
using SemPPL.Trainer.Export;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

internal static class ExportCommand
{
    public static Command Create()
    {
        var run = new Option<DirectoryInfo>("--run") { Description = "Run folder written by `semppl train`", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Path of the deployable ONNX model", Required = true };
        var noClassifier = new Option<bool>("--no-classifier") { Description = "Embedding output only (drop the linear classifier's logits)" };
        var cmd = new Command("export", "Write the deployable model: opset 17, dynamic batch, BatchNorm folded, embedding (+ logits) outputs; checked against eval.onnx")
        {
            run, output, noClassifier,
        };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var r = ExportRunner.Run(new RunFolder(parse.GetValue(run)!.FullName), parse.GetValue(output)!.FullName, !parse.GetValue(noClassifier), TrainCommand.Log);
            Console.WriteLine($"{r.Path}: {r.Bytes:N0} bytes, checkpoint step {r.CheckpointStep}, {r.FoldedBatchNorms} BatchNorms folded, max |diff| {r.MaxAbsDifference:E2}");
            return 0;
        }));
        return cmd;
    }
}

using System.CommandLine;
using SemPPL.Trainer.Prediction;
using SemPPL.Trainer.Runtime;
using Spectre.Console;

namespace SemPPL.Cli;

internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "A model written by `semppl export` (its metadata says how to preprocess)", Required = true };
        var inputs = new Argument<string[]>("INPUT") { Description = "Image files, folders (searched recursively) or IDX image files", Arity = ArgumentArity.OneOrMore };
        var top = CliOptions.PositiveInt("--top", "Classes per image, most probable first", 5);
        var output = new Option<FileInfo?>("--out") { Description = "preds.csv or preds.json (default: CSV on standard output)" };
        output.Validators.Add(r =>
        {
            var ext = Path.GetExtension(r.GetValueOrDefault<FileInfo?>()?.Name ?? ".csv").ToLowerInvariant();
            if (ext is not (".csv" or ".json")) r.AddError($"--out must name a .csv or .json file, not '{ext}'");
        });
        var embeddings = new Option<FileInfo?>("--embeddings") { Description = "Also write the embeddings as a float32 [images, dim] NumPy .npy file (rows in the order of the predictions)" };
        var device = new Option<string?>("--device") { Description = "auto | cpu | cuda | cuda:N (default auto)" };
        var batch = CliOptions.PositiveInt("--batch", "Images per run of the model", 64);
        var cmd = new Command("predict", "Classify (and embed) images with an exported model: one row per image with its top classes and probabilities")
        {
            model, inputs, top, output, embeddings, device, batch,
        };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            SingleProcessLaunch.Require();
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            if (Console.IsErrorRedirected) err.Profile.Width = 4096;   // one line per warning in logs, not wrapped at 80 columns
            void Note(string m) => Console.Error.WriteLine(m);
            var images = new PredictionInputs(parse.GetValue(inputs)!);
            using var factory = new SessionFactory(ExecutionDevice.Parse(parse.GetValue(device) ?? "auto"), SessionSettings.ForRun(0), Note);
            using var predictor = new Predictor(factory, parse.GetValue(model)!.FullName, parse.GetValue(batch));
            var m = predictor.Metadata;
            Note($"model {parse.GetValue(model)!.Name}: {m.Head}, input {m.InputType} {m.InputLayout} {m.InputSize}x{m.InputSize}x{m.Channels}, " +
                 $"{m.ClassNames.Count} classes{(m.TestTop1 is { } t ? $", test top-1 {t:P2}" : "")}; {images.Count:N0} images on {factory.Description}");

            using var writer = new PredictionWriter(parse.GetValue(output)?.FullName, parse.GetValue(top), predictor.HasClassifier);
            using var npy = parse.GetValue(embeddings) is { } e ? new NpyWriter(e.FullName, (int)m.EmbeddingDim) : null;
            var warnings = new List<string>();
            PredictionSummary summary = null!;
            err.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("predict", maxValue: Math.Max(1, images.Count));
                    summary = predictor.Run(images, parse.GetValue(top), writer.Write, npy is null ? null : row => npy.Append(row),
                        w => { warnings.Add(w); err.MarkupLine(Markup.Escape("warning: " + w)); }, done => task.Value = done);
                });
            if (summary.Predicted == 0)
                throw new InvalidDataException($"predict: none of the {images.Count:N0} image(s) could be read");
            writer.Complete();
            npy?.Complete();
            string where = parse.GetValue(output) is { } o ? $" -> {o.FullName}" : "";
            Note($"predicted {summary.Predicted:N0} images in {summary.Seconds:F1} s ({summary.Predicted / Math.Max(summary.Seconds, 1e-9):F0} images/s){where}" +
                 (npy is not null ? $"; embeddings [{npy.Rows}, {m.EmbeddingDim}] -> {parse.GetValue(embeddings)!.FullName}" : "") +
                 (summary.Skipped > 0 ? $"; {summary.Skipped} unreadable image(s) skipped" : ""));
            return 0;
        }));
        return cmd;
    }
}

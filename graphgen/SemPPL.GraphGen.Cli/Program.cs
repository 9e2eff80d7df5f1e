using System.CommandLine;
using System.Diagnostics;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;

// graphgen: writes the ONNX artifact set of a config (README, "graphgen").
var configOption = new Option<FileInfo>("--config") { Description = "YAML config (see configs/ and docs/config.md)", Required = true };
var outOption = new Option<DirectoryInfo>("--out") { Description = "Output folder of the artifact set (default: artifacts/<config name>)" };
var labelledOption = new Option<int?>("--labelled-images")
{
    Description = "Number of labelled images (sizes the queue). Default: labels_per_class x num_classes, or the lines of label_file; required with label_fraction",
};
var worldSizeOption = new Option<int>("--world-size")
{
    Description = "Ranks of the data-parallel job the set is for (each graph holds one rank's batch; README, \"Many GPUs and machines\"). Default 1",
    DefaultValueFactory = _ => 1,
};

var root = new RootCommand("graphgen: write the SemPPL ONNX artifact set (train, optimizer, target, EMA, queue, pseudo-label, eval graphs, manifest, initial weights) for a config")
{
    configOption, outOption, labelledOption, worldSizeOption,
};
root.SetAction(parse =>
{
    var configFile = parse.GetValue(configOption)!;
    try
    {
        var config = ConfigLoader.LoadValidated(configFile.FullName);
        int labelled = parse.GetValue(labelledOption) ?? LabelledImages.FromConfig(config);
        string outDir = parse.GetValue(outOption)?.FullName ?? Path.Combine("artifacts", config.Name);
        var sw = Stopwatch.StartNew();
        int worldSize = parse.GetValue(worldSizeOption);
        if (worldSize < 1) throw new ConfigException($"--world-size: {worldSize} must be a whole number >= 1");
        var manifest = ArtifactSetWriter.Write(config, labelled, outDir, Console.WriteLine, worldSize);
        Console.WriteLine($"parameters: encoder {manifest.ParameterCounts.Encoder:N0}, projector {manifest.ParameterCounts.Projector:N0}, " +
                          $"predictor {manifest.ParameterCounts.Predictor:N0}, classifier {manifest.ParameterCounts.Classifier:N0}");
        Console.WriteLine($"done in {sw.Elapsed.TotalSeconds:F1} s (config hash {manifest.ConfigHash[..12]})");
        return 0;
    }
    catch (ConfigException e)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }
    catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or NotSupportedException or UnauthorizedAccessException
                                   or SemPPL.GraphGen.Onnx.ShapeException or SemPPL.GraphGen.Autodiff.MissingGradientRuleException)
    {
        // The writer builds the set in a temporary sibling folder and removes it on failure: nothing was written.
        Console.Error.WriteLine($"graphgen: {e.Message}");
        Console.Error.WriteLine("graphgen: no artifact set was written (an existing one is left unchanged)");
        return 1;
    }
});
return root.Parse(args).Invoke();

/// <summary>The labelled-image count graphgen can know without opening the data set.</summary>
internal static class LabelledImages
{
    public static int FromConfig(SemPPLConfig c)
    {
        if (c.Data.LabelFile is { } file)
            return File.ReadLines(ConfigPaths.ExpandHome(file)!).Count(l => !string.IsNullOrWhiteSpace(l));
        if (c.Data.LabelsPerClass is { } perClass)
            return perClass * c.Model.NumClasses;
        throw new ArgumentException("data.label_fraction needs the data set's size: pass --labelled-images N (semppl train passes it itself)");
    }
}

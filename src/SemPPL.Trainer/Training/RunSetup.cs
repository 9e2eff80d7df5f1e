using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Splits;
using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Trainer.Training;

/// <summary>
/// Everything a run needs before its first step: the validated config, the data sets, the labelled
/// split (saved with the run, reloaded on resume and by eval), the resolved sizes, and an artifact
/// set that matches the config (regenerated when missing or when the config hash changed).
/// </summary>
public sealed class RunSetup
{
    private RunSetup(SemPPLConfig config, RunFolder folder, DatasetPair data, LabelledSplit split, ResolvedConfig resolved, Manifest manifest)
    {
        Config = config; Folder = folder; Data = data; Split = split; Resolved = resolved; Manifest = manifest;
    }

    public SemPPLConfig Config { get; }
    public RunFolder Folder { get; }
    public DatasetPair Data { get; }
    public LabelledSplit Split { get; }
    public ResolvedConfig Resolved { get; }
    public Manifest Manifest { get; }

    /// <param name="resume">Reuse the split saved in the run folder (required when it exists and the run is resumed).</param>
    public static RunSetup Prepare(SemPPLConfig config, RunFolder folder, bool resume, Action<string> log)
    {
        ConfigValidator.Validate(config);
        ConfigValidator.CheckPaths(config);
        CheckDevice(config, log);
        folder.Create();

        var diagnostics = new DataDiagnostics();
        diagnostics.Warning += w => log($"warning: {w}");
        var data = DatasetFactory.Open(config.Data, config.Augment.Channels, config.Seed, diagnostics);
        if (data.Train.NumClasses != config.Model.NumClasses)
            throw new ConfigException($"model.num_classes: {config.Model.NumClasses} does not match the data set's {data.Train.NumClasses} classes");

        LabelledSplit split;
        if (File.Exists(folder.Split) && resume)
            split = LabelledSplit.Load(folder.Split, data.Train);
        else
        {
            split = LabelledSplit.Create(data.Train, config.Data, config.Seed);
            split.Save(folder.Split, data.Train);
        }
        var resolved = ResolvedConfig.Resolve(config, data.Train.Count, split.Count);
        ConfigLoader.Save(config, folder.Config);
        var manifest = EnsureArtifacts(config, split.Count, folder.Artifacts, log);
        return new RunSetup(config, folder, data, split, resolved, manifest);
    }

    /// <summary>
    /// An explicit <c>cuda</c> that cannot start fails here, before any data is read or artifacts are written
    /// (the trainer would only find out after that work). <c>auto</c> and <c>cpu</c> cannot fail.
    /// </summary>
    private static void CheckDevice(SemPPLConfig config, Action<string> log)
    {
        var device = SemPPL.Trainer.Runtime.ExecutionDevice.Parse(config.Device);
        if (device.Kind != SemPPL.Trainer.Runtime.DeviceKind.Cuda) return;
        using var probe = new SemPPL.Trainer.Runtime.SessionFactory(device, notice: log); // throws DeviceUnavailableException
    }

    /// <summary>Regenerates the artifact set when it is missing, was made for another config, or by another graphgen or manifest format.</summary>
    public static Manifest EnsureArtifacts(SemPPLConfig config, int labelledImages, string dir, Action<string> log)
    {
        string hash = ConfigHash.Compute(config, labelledImages);
        string manifestPath = Path.Combine(dir, ArtifactNames.ManifestFile);
        if (File.Exists(manifestPath))
        {
            int format = Manifest.FormatOf(File.ReadAllText(manifestPath), manifestPath);
            if (format != Manifest.CurrentFormat)
                log($"artifacts in {dir} have manifest format {format}; regenerating them in format {Manifest.CurrentFormat}");
            else
            {
                var existing = Manifest.Read(manifestPath);
                if (existing.ConfigHash == hash && existing.ToolVersion == ArtifactSetWriter.ToolVersion) return existing;
                log($"artifacts in {dir} were made for config hash {existing.ConfigHash[..12]} by graphgen {existing.ToolVersion}; " +
                    $"regenerating for {hash[..12]} with graphgen {ArtifactSetWriter.ToolVersion}");
            }
        }
        else log($"generating the artifact set in {dir}");
        return ArtifactSetWriter.Write(config, labelledImages, dir, m => log("  " + m));
    }
}

using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Data.Splits;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Autodiff;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;

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

    /// <summary>
    /// Checks everything first and writes only when every check passed: a run folder that already holds a run is
    /// refused unless <paramref name="resume"/> (continue it) or <paramref name="force"/> (start over: its outputs
    /// are removed first); a resume is refused when the run's checkpoints are all unreadable (unless
    /// <paramref name="force"/>), when they were written for another config hash, or when a key that changes the
    /// computation differs from the run's config.yaml (<see cref="ResumeCheck"/>). Then it saves the split and the
    /// config and makes sure the artifact set matches.
    /// </summary>
    /// <param name="resume">Continue the run in the folder: reuse its split and its newest readable checkpoint.</param>
    /// <param name="force">Start over in a folder that holds a run (or whose checkpoints are unreadable), removing its outputs.</param>
    /// <param name="worldSize">Ranks of a data-parallel job (this is rank 0); the artifact set is made for them.</param>
    public static RunSetup Prepare(SemPPLConfig config, RunFolder folder, bool resume, Action<string> log, bool force = false, int worldSize = 1)
    {
        ConfigValidator.Validate(config);
        ConfigValidator.CheckPaths(config);
        CheckDevice(config, log);
        if (!resume && !force && folder.HoldsRun)
            throw new RunFolderConflictException(
                $"{folder.Root} already holds a run; give --resume to continue it, --force to start over (its checkpoints, metrics and results are removed), " +
                "or a new --out folder");

        var diagnostics = new DataDiagnostics();
        diagnostics.Warning += w => log($"warning: {w}");
        var data = DatasetFactory.Open(config.Data, config.Augment.Channels, config.Seed, diagnostics);
        if (data.Train.NumClasses != config.Model.NumClasses)
            throw new ConfigException($"model.num_classes: {config.Model.NumClasses} does not match the data set's {data.Train.NumClasses} classes");

        Checkpoint? checkpoint = null;
        if (resume)
        {
            ResumeCheck.Config(folder, config, log);
            checkpoint = LatestReadableCheckpoint(folder, config, force, log);
        }
        bool continues = checkpoint is not null;
        var split = continues || (resume && File.Exists(folder.Split) && !force)
            ? LabelledSplit.Load(folder.Split, data.Train)
            : LabelledSplit.Create(data.Train, config.Data, config.Seed);
        var resolved = ResolvedConfig.Resolve(config, data.Train.Count, split.Count);
        if (checkpoint is not null) ResumeCheck.Checkpoint(checkpoint, ConfigHash.Compute(config, split.Count), config.Seed, resolved.TotalSteps);
        DataParallelLayout.Split(config.Training, worldSize); // a batch that does not divide among the ranks is refused before anything is written

        // Every check passed: from here on the folder is written.
        if (force && !continues && folder.HoldsRun)
        {
            log($"--force: removing the earlier run's outputs in {folder.Root}");
            folder.ClearOutputs();
        }
        folder.Create();
        if (!continues) split.Save(folder.Split, data.Train);
        ConfigLoader.Save(config, folder.Config);
        var manifest = EnsureArtifacts(config, split.Count, folder.Artifacts, log, worldSize);
        return new RunSetup(config, folder, data, split, resolved, manifest) { _resumeCheckpoint = checkpoint };
    }

    /// <summary>
    /// A rank other than 0 of a data-parallel job: its own data set and artifact set (in <paramref name="rankFolder"/>, which
    /// holds nothing else), rank 0's labelled split and resume checkpoint (<see cref="SemPPL.Trainer.DataParallel.JobSetup"/>).
    /// </summary>
    public static RunSetup PrepareRank(SemPPLConfig config, RunFolder rankFolder, int[] splitIndices, Checkpoint? checkpoint, int worldSize, Action<string> log)
    {
        ConfigValidator.Validate(config);
        ConfigValidator.CheckPaths(config);
        var diagnostics = new DataDiagnostics();
        diagnostics.Warning += w => log($"warning: {w}");
        var data = DatasetFactory.Open(config.Data, config.Augment.Channels, config.Seed, diagnostics);
        if (data.Train.NumClasses != config.Model.NumClasses)
            throw new ConfigException($"model.num_classes: {config.Model.NumClasses} does not match the data set's {data.Train.NumClasses} classes");
        if (splitIndices.Any(i => i < 0 || i >= data.Train.Count))
            throw new InvalidDataException($"rank 0's labelled split names images beyond this rank's {data.Train.Count:N0}: every rank needs the same data");
        var split = new LabelledSplit(splitIndices, "from rank 0", config.Seed);
        var resolved = ResolvedConfig.Resolve(config, data.Train.Count, split.Count);
        var manifest = EnsureArtifacts(config, split.Count, rankFolder.Artifacts, log, worldSize);
        return new RunSetup(config, rankFolder, data, split, resolved, manifest) { _resumeCheckpoint = checkpoint };
    }

    private Checkpoint? _resumeCheckpoint;

    /// <summary>The file of the checkpoint the run resumes from, until <see cref="TakeResumeCheckpoint"/> hands it out.</summary>
    public string? ResumeCheckpointFile => _resumeCheckpoint?.Path;

    /// <summary>The checkpoint <see cref="Prepare"/> read and checked for a resume (null when the run starts at step 0); handed out once, so its host copy can be freed.</summary>
    public Checkpoint? TakeResumeCheckpoint()
    {
        var c = _resumeCheckpoint;
        _resumeCheckpoint = null;
        return c;
    }

    private static Checkpoint? LatestReadableCheckpoint(RunFolder folder, SemPPLConfig config, bool force, Action<string> log)
    {
        var store = new CheckpointStore(folder.Root, config.Training.KeepCheckpoints, w => log($"warning: {w}"));
        var files = store.List();
        var checkpoint = store.LoadLatest();
        if (checkpoint is null && files.Count > 0)
        {
            if (!force)
                throw new RunFolderConflictException(
                    $"resume: none of the {files.Count} checkpoint(s) in {store.Folder} can be read (see the warnings above); " +
                    "--force starts the run over from step 0 and removes them");
            log($"resume: none of the {files.Count} checkpoint(s) can be read; --force: starting over from step 0");
        }
        else if (checkpoint is null) log("resume: no checkpoint found; starting from step 0");
        return checkpoint;
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
    /// <param name="worldSize">Ranks of the job: a set made for another world size is regenerated (its graphs hold one rank's batch).
    /// Null (evaluation, which reads only the world-size-free graphs): a set for any world size will do, else one for 1 is made.</param>
    public static Manifest EnsureArtifacts(SemPPLConfig config, int labelledImages, string dir, Action<string> log, int? worldSize = 1)
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
                if (existing.ConfigHash == hash && existing.ToolVersion == ArtifactSetWriter.ToolVersion && existing.Shapes.WorldSize == (worldSize ?? existing.Shapes.WorldSize))
                    return existing;
                log($"artifacts in {dir} were made for config hash {existing.ConfigHash[..12]} by graphgen {existing.ToolVersion} " +
                    $"for {existing.Shapes.WorldSize} rank(s); regenerating for {hash[..12]} with graphgen {ArtifactSetWriter.ToolVersion} for {worldSize ?? 1}");
            }
        }
        else log($"generating the artifact set in {dir}");
        try
        {
            return ArtifactSetWriter.Write(config, labelledImages, dir, m => log("  " + m), worldSize ?? 1);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or ShapeException or MissingGradientRuleException)
        {
            // The configured network cannot be built (an onnx: backbone's op, gradient rule, names or shapes); the writer left nothing behind.
            throw new ConfigException(e.Message.StartsWith("model.", StringComparison.Ordinal)
                ? e.Message
                : $"model.backbone '{config.Model.Backbone}': the training graphs cannot be built: {e.Message}");
        }
    }
}

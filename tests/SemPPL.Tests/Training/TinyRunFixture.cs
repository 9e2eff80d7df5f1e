using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

/// <summary>
/// One uninterrupted 20-step run of <see cref="TinyConfig"/> (checkpoints at 10 and 20), trained once and
/// shared by the resume, queue, evaluation and export tests. The collection also keeps every test that
/// trains from running at the same time as another one (2 shared cores).
/// </summary>
public sealed class TinyRunFixture : IDisposable
{
    public TinyRunFixture()
    {
        Run = new TempRun("straight");
        (Setup, Result) = TinyTraining.Run(TinyConfig.Create(), Run.Folder, log: Log);
    }

    public TempRun Run { get; }
    public RunFolder Folder => Run.Folder;
    public string Root => Run.Root;
    public RunSetup Setup { get; }
    public TrainingResult Result { get; }
    public List<string> Log { get; } = [];

    public void Dispose() => Run.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TinyRunCollection : ICollectionFixture<TinyRunFixture>
{
    public const string Name = "tiny SemPPL runs";
}

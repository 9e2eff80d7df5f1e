using SemPPL.Config;
using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Evaluation;

namespace SemPPL.Tests.Evaluation;

public class EvalOverrideTests
{
    [Fact]
    public void Eval_accepts_only_eval_overrides_and_checks_their_keys()
    {
        using var run = new TempRun("eval-set");
        Directory.CreateDirectory(run.Root);
        ConfigLoader.Save(TinyConfig.Create(), run.Folder.Config);

        var other = Assert.Throws<ConfigException>(() => EvaluationContext.Open(run.Folder, null, _ => { }, ["model.width=2"]));
        Assert.Contains("model.width=2", other.Message);
        Assert.Contains("eval.*", other.Message);

        var misspelt = Assert.Throws<ConfigException>(() => EvaluationContext.Open(run.Folder, null, _ => { }, ["eval.knn_kk=3"]));
        Assert.Contains("eval.knn_k", misspelt.Message);
    }
}

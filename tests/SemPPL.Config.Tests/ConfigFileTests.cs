using Xunit;

namespace SemPPL.Config.Tests;

/// <summary>Loading a config file with and without `--set` overrides: every problem at once, cited where it is.</summary>
public sealed class ConfigFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("semppl-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string yaml)
    {
        string path = Path.Combine(_dir, $"c{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Theory]
    [InlineData("training:\n  steps: [1, 2\n", "YAML syntax error")]
    [InlineData("seed: 1\nseed: 2\n", "line 2")]
    public void Syntax_and_duplicate_key_errors_are_config_errors_with_or_without_overrides(string yaml, string expected)
    {
        string path = Write(yaml);
        Assert.Contains(expected, Assert.Throws<ConfigException>(() => ConfigOverrides.Load(path, [])).Message);
        Assert.Contains(expected, Assert.Throws<ConfigException>(() => ConfigOverrides.Load(path, ["objective.alpha=0"])).Message);
    }

    [Fact]
    public void With_overrides_the_files_problems_keep_their_line_and_an_overrides_problem_names_the_override()
    {
        string path = Write("name: t\nseed: 0\ntraining:\n  batch_unlabelled: 64\n  steps: many\n");
        var e = Assert.Throws<ConfigException>(() => ConfigOverrides.Load(path, ["objective.alpha=x", "optimizer.momentm=0.5"]));
        Assert.Contains(e.Problems, p => p.StartsWith("training.steps:", StringComparison.Ordinal) && p.Contains("(line 5)"));
        Assert.Contains(e.Problems, p => p.StartsWith("objective.alpha:", StringComparison.Ordinal) && p.Contains("(--set objective.alpha=x)"));
        Assert.Contains(e.Problems, p => p.StartsWith("optimizer.momentm:", StringComparison.Ordinal) && p.Contains("(--set optimizer.momentm=0.5)"));
        Assert.Equal(3, e.Problems.Count);
    }

    [Fact]
    public void Load_problems_and_range_problems_come_in_one_message()
    {
        // 3 values of the wrong type, 1 unknown key, 2 values out of range: 6 problems, all reported.
        string path = Write("seed: x\ndevice: gpu\ntraining:\n  steps: many\n  stepz: 3\n  ema_base: 2\noptimizer:\n  base_lr: fast\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Equal(6, e.Problems.Count);
        foreach (var key in new[] { "seed:", "device:", "training.steps:", "training.stepz:", "training.ema_base:", "optimizer.base_lr:" })
            Assert.Contains(e.Problems, p => p.StartsWith(key, StringComparison.Ordinal));
        var withBase = Assert.Throws<ConfigException>(() => ConfigOverrides.Load(path, ["optimizer.name=adam"]));
        Assert.Contains(withBase.Problems, p => p.StartsWith("optimizer.name:", StringComparison.Ordinal));
        Assert.Contains(withBase.Problems, p => p.StartsWith("optimizer.base_lr:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    public void A_file_without_keys_is_refused_rather_than_run_with_every_default(string yaml)
    {
        string path = Write(yaml);
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("no keys", e.Message);
        Assert.Contains("configs/quickstart.yaml", e.Message);
        Assert.Throws<ConfigException>(() => ConfigOverrides.Load(path, ["name=x"]));
    }

    [Fact]
    public void A_folder_or_a_missing_file_as_config_says_what_it_is()
    {
        Assert.Contains("is a folder, not a config file", Assert.Throws<ConfigException>(() => ConfigLoader.Load(_dir)).Message);
        Assert.Contains("does not exist", Assert.Throws<ConfigException>(() => ConfigLoader.Load(Path.Combine(_dir, "nope.yaml"))).Message);
    }

    [Fact]
    public void A_resume_compares_configs_key_by_key()
    {
        var a = ConfigLoader.FromYaml("seed: 0\ntraining:\n  steps: 20\n");
        var b = ConfigLoader.FromYaml("seed: 1\ntraining:\n  steps: 20\neval:\n  knn_k: 5\n");
        var changes = ConfigDiff.Between(a, b);
        Assert.Equal(["seed: 0 -> 1", "eval.knn_k: 20 -> 5"], changes.Select(c => c.ToString()));
    }
}

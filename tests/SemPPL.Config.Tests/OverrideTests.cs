using Xunit;

namespace SemPPL.Config.Tests;

public class OverrideTests
{
    private const string Yaml = "name: t\nobjective:\n  alpha: 0.2\ntraining:\n  batch_unlabelled: 64\n";

    [Fact]
    public void Overrides_replace_and_add_keys_with_yaml_values()
    {
        var c = ConfigLoader.FromYaml(ConfigOverrides.Apply(Yaml, ["objective.alpha=0", "objective.lambda=0", "augment.crop_area=[0.35, 1.0]", "objective.negatives=all"]));
        Assert.Equal(0, c.Objective.Alpha);
        Assert.Equal(0, c.Objective.Lambda);
        Assert.Equal([0.35, 1.0], c.Augment.CropArea);
        Assert.Equal("all", c.Objective.Negatives);
        Assert.Equal(64, c.Training.BatchUnlabelled);
    }

    [Fact]
    public void A_misspelt_override_key_is_rejected_with_a_suggestion()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromYaml(ConfigOverrides.Apply(Yaml, ["objective.alpah=0"])));
        Assert.Contains("objective.alpah", e.Message);
        Assert.Contains("objective.alpha", e.Message);
    }

    [Fact]
    public void An_assignment_without_equals_names_the_expected_form()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigOverrides.Apply(Yaml, ["objective.alpha"]));
        Assert.Contains("section.key=value", e.Message);
    }
}

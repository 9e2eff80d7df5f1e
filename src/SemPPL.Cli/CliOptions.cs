using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace SemPPL.Cli;

/// <summary>Options several verbs share, with the parsing and messages of one place.</summary>
internal static class CliOptions
{
    /// <summary>A positive step count; a bad value is a one-line error naming the option and the value.</summary>
    public static Option<int?> Steps(string description) => new("--steps")
    {
        Description = description,
        CustomParser = r =>
        {
            string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0) return n;
            r.AddError($"--steps: expected a whole number of steps >= 1, got '{text}'");
            return null;
        },
    };

    /// <summary>A whole number >= 1 with a default; a bad value is a one-line error naming the option and the value.</summary>
    public static Option<int> PositiveInt(string name, string description, int defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0) return n;
            r.AddError($"{name}: expected a whole number >= 1, got '{text}'");
            return defaultValue;
        },
    };

    public static Option<bool> Force() => new("--force")
    {
        Description = "Start over in a run folder that already holds a run: its config, split, metrics, results and checkpoints are removed first",
    };
}

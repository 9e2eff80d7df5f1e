using System.Globalization;

namespace SemPPL.Config;

/// <summary>One key whose value differs between two configs, both values as the YAML would show them.</summary>
public sealed record ConfigChange(string Path, string Before, string After)
{
    public override string ToString() => $"{Path}: {Before} -> {After}";
}

/// <summary>The leaf keys whose values differ between two configs (e.g. a run's saved config and the one a resume was given).</summary>
public static class ConfigDiff
{
    public static IReadOnlyList<ConfigChange> Between(SemPPLConfig before, SemPPLConfig after)
    {
        var changes = new List<ConfigChange>();
        foreach (var path in ConfigSchema.LeafPaths())
        {
            string a = Show(ConfigSchema.ValueAt(before, path)), b = Show(ConfigSchema.ValueAt(after, path));
            if (a != b) changes.Add(new ConfigChange(path, a, b));
        }
        return changes;
    }

    private static string Show(object? v) => v switch
    {
        null => "null",
        bool x => x ? "true" : "false",
        double d => ConfigLoader.FormatNumber(d),
        double[] list => "[" + string.Join(", ", list.Select(ConfigLoader.FormatNumber)) + "]",
        int or long => Convert.ToString(v, CultureInfo.InvariantCulture)!,
        _ => v.ToString() ?? "",
    };
}

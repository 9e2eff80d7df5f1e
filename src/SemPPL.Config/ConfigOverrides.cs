using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SemPPL.Config;

/// <summary>
/// Command-line overrides `--set section.key=value`, applied to the config file's YAML tree before it is bound, so
/// they go through the same strict key and type checks as the file (a misspelt key is an error with a suggestion)
/// and the file's own problems keep their line numbers. The value is a YAML fragment: `0.2`, `all`, `[0.35, 1.0]`, `null`.
/// </summary>
public static class ConfigOverrides
{
    public static SemPPLConfig Load(string path, IReadOnlyList<string> assignments) => ConfigLoader.Load(path, assignments);

    /// <summary>The YAML text with the assignments applied (for inspection; <see cref="Load"/> binds the tree directly).</summary>
    public static string Apply(string yaml, IReadOnlyList<string> assignments)
    {
        var stream = ConfigLoader.Parse(yaml, null);
        if (stream.Documents.Count == 0) stream.Documents.Add(new YamlDocument(new YamlMappingNode()));
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException("--set: the config's top level is not a mapping");
        ApplyTo(root, assignments, new Dictionary<YamlNode, string>(ReferenceEqualityComparer.Instance));
        var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>Applies the assignments to a config's root mapping; records each node it makes in <paramref name="origins"/> with its assignment.</summary>
    internal static void ApplyTo(YamlMappingNode root, IReadOnlyList<string> assignments, IDictionary<YamlNode, string> origins)
    {
        foreach (var assignment in assignments)
        {
            int eq = assignment.IndexOf('=');
            if (eq <= 0) throw new ConfigException($"--set '{assignment}': expected section.key=value, e.g. --set objective.alpha=0");
            var path = assignment[..eq].Trim().Split('.');
            if (path.Any(string.IsNullOrWhiteSpace)) throw new ConfigException($"--set '{assignment}': '{assignment[..eq]}' is not a key path such as objective.alpha");
            var node = root;
            for (int i = 0; i < path.Length - 1; i++)
            {
                var key = new YamlScalarNode(path[i]);
                if (!node.Children.TryGetValue(key, out var child) || ConfigLoader.IsNull(child))
                {
                    child = new YamlMappingNode();
                    node.Children[key] = child;
                    origins[key] = assignment;
                    origins[child] = assignment;
                }
                node = child as YamlMappingNode ?? throw new ConfigException($"--set '{assignment}': '{string.Join('.', path[..(i + 1)])}' is not a section");
            }
            var leaf = new YamlScalarNode(path[^1]);
            var value = ParseValue(assignment[(eq + 1)..], assignment);
            if (!node.Children.ContainsKey(leaf)) origins[leaf] = assignment;
            node.Children[leaf] = value;
            origins[value] = assignment;
        }
    }

    private static YamlNode ParseValue(string text, string assignment)
    {
        var s = new YamlStream();
        try { s.Load(new StringReader("v: " + text)); }
        catch (YamlException e) { throw new ConfigException($"--set '{assignment}': the value is not valid YAML ({e.Message})"); }
        return ((YamlMappingNode)s.Documents[0].RootNode).Children[new YamlScalarNode("v")];
    }
}

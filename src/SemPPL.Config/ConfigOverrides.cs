using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SemPPL.Config;

/// <summary>
/// Command-line overrides `--set section.key=value` applied to the YAML text before it is bound, so
/// they go through the same strict key and type checks as the file (a misspelt key is an error with
/// a suggestion). The value is a YAML fragment: `0.2`, `all`, `[0.35, 1.0]`, `null`.
/// </summary>
public static class ConfigOverrides
{
    public static SemPPLConfig Load(string path, IReadOnlyList<string> assignments)
    {
        if (assignments.Count == 0) return ConfigLoader.Load(path);
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read the config file: {e.Message}", path);
        }
        return ConfigLoader.FromYaml(Apply(text, assignments), path);
    }

    public static string Apply(string yaml, IReadOnlyList<string> assignments)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        if (stream.Documents.Count == 0) stream.Documents.Add(new YamlDocument(new YamlMappingNode()));
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException("--set: the config's top level is not a mapping");
        foreach (var assignment in assignments)
        {
            int eq = assignment.IndexOf('=');
            if (eq <= 0) throw new ConfigException($"--set '{assignment}': expected section.key=value, e.g. --set objective.alpha=0");
            var path = assignment[..eq].Trim().Split('.');
            var node = root;
            for (int i = 0; i < path.Length - 1; i++)
            {
                var key = new YamlScalarNode(path[i]);
                if (!node.Children.TryGetValue(key, out var child))
                {
                    child = new YamlMappingNode();
                    node.Children[key] = child;
                }
                node = child as YamlMappingNode ?? throw new ConfigException($"--set '{assignment}': '{string.Join('.', path[..(i + 1)])}' is not a section");
            }
            node.Children[new YamlScalarNode(path[^1])] = ParseValue(assignment[(eq + 1)..], assignment);
        }
        var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private static YamlNode ParseValue(string text, string assignment)
    {
        var s = new YamlStream();
        try { s.Load(new StringReader("v: " + text)); }
        catch (YamlException e) { throw new ConfigException($"--set '{assignment}': the value is not valid YAML ({e.Message})"); }
        return ((YamlMappingNode)s.Documents[0].RootNode).Children[new YamlScalarNode("v")];
    }
}

namespace SemPPL.Config;

/// <summary>Path helpers for configuration values.</summary>
public static class ConfigPaths
{
    /// <summary>
    /// Expands a leading <c>~</c> (alone or followed by '/' or '\') to the user's home directory
    /// (HOME, else the user-profile folder). Other paths are returned unchanged; null stays null.
    /// </summary>
    public static string? ExpandHome(string? path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '~') return path;
        if (path.Length > 1 && path[1] != '/' && path[1] != '\\') return path; // ~user is not expanded
        var home = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrEmpty(home)) home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (string.IsNullOrEmpty(home)) return path;
        return path.Length == 1 ? home : System.IO.Path.Combine(home, path[2..]);
    }

    /// <summary>Expands <c>~</c> in every path-valued key: data.path, data.test_path, data.label_file, and the path of an onnx: backbone.</summary>
    public static void ExpandHomeInPlace(SemPPLConfig config)
    {
        config.Data.Path = ExpandHome(config.Data.Path);
        config.Data.TestPath = ExpandHome(config.Data.TestPath);
        config.Data.LabelFile = ExpandHome(config.Data.LabelFile);
        var b = config.Model.Backbone;
        if (b is not null && b.StartsWith(KnownNames.OnnxBackbonePrefix, StringComparison.Ordinal))
            config.Model.Backbone = KnownNames.OnnxBackbonePrefix + ExpandHome(b[KnownNames.OnnxBackbonePrefix.Length..]);
    }
}

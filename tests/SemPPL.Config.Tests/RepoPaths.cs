namespace SemPPL.Config.Tests;

internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Configs => Path.Combine(Root, "configs");

    public static IEnumerable<object[]> ShippedConfigs() =>
        Directory.GetFiles(Path.Combine(FindRoot(), "configs"), "*.yaml").OrderBy(f => f).Select(f => new object[] { Path.GetFileName(f) });

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SemPPL.Ort.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root (SemPPL.Ort.sln) not found above " + AppContext.BaseDirectory);
    }
}

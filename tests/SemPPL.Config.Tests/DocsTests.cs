using Xunit;

namespace SemPPL.Config.Tests;

public class DocsTests
{
    private static readonly string Doc = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "config.md"));

    [Fact]
    public void EveryKeyIsDocumented()
    {
        var missing = ConfigSchema.LeafPaths().Where(p => !Doc.Contains("`" + p + "`", StringComparison.Ordinal)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void HashedKeysAreDocumented()
    {
        var section = Doc[Doc.IndexOf("## Config hash", StringComparison.Ordinal)..];
        foreach (var k in ConfigHash.HashedKeys().Where(k => !k.StartsWith("model.") && !k.StartsWith("objective.")))
            Assert.Contains(k, section);
    }
}

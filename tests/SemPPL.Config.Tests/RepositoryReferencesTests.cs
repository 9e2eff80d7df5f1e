using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace SemPPL.Config.Tests;

/// <summary>
/// A clone is all a user has: no tracked text file may point at notes or folders outside the repository.
/// The method and the design are written down in docs/method.md and docs/design.md instead.
/// </summary>
public class RepositoryReferencesTests
{
    // A sibling "shared" folder, the names of the notes kept there, and the development machines' root. The
    // character classes keep this file from matching itself.
    private static readonly Regex Outside = new(@"\.\./shared|SEMPPL\.md|DESIGN\.md|/wor[k]/", RegexOptions.CultureInvariant);

    [Fact]
    public void NoTrackedTextFileReferencesAPathOutsideTheRepository()
    {
        var files = TrackedFiles();
        Assert.True(files.Count > 100, $"expected the repository's files, found {files.Count} under {RepoPaths.Root}");
        var hits = new List<string>();
        foreach (var rel in files.Where(f => !IsRecordedOutput(f)))
        {
            var path = Path.Combine(RepoPaths.Root, rel);
            if (!File.Exists(path)) continue; // deleted in the working tree, not yet committed
            var bytes = File.ReadAllBytes(path);
            if (Array.IndexOf(bytes, (byte)0) >= 0) continue; // binary (ONNX fixtures, images, archives)
            var lines = Encoding.UTF8.GetString(bytes).Split('\n');
            for (int i = 0; i < lines.Length; i++)
                if (Outside.IsMatch(lines[i])) hits.Add($"{rel}:{i + 1}: {lines[i].Trim()}");
        }
        Assert.True(hits.Count == 0, "references to paths outside the repository:\n" + string.Join("\n", hits));
    }

    [Theory]
    [InlineData("see .." + "/shared")]
    [InlineData("/// (SEMPPL" + ".md, step 3)")]
    [InlineData("# as DESIGN" + ".md found")]
    [InlineData("[/wor" + "k/main/.gpu-dotnet]")]
    public void ThePatternCatchesEachKindOfReference(string line) => Assert.Matches(Outside, line);

    [Theory]
    [InlineData("see docs/method.md")]
    [InlineData("docs/design.md, scale-out")]
    [InlineData("shared by the correctness test")]
    public void ThePatternLeavesTheRepositorysOwnDocsAlone(string line) => Assert.DoesNotMatch(Outside, line);

    // Logs under docs/results are a machine's output as recorded (they name the folders it ran in).
    private static bool IsRecordedOutput(string rel) =>
        rel.StartsWith("docs/results/", StringComparison.Ordinal) && rel.EndsWith(".log", StringComparison.Ordinal);

    /// <summary>git's tracked files; in a copy without git, every file outside build output, hidden folders and a worktree's .git file.</summary>
    private static List<string> TrackedFiles()
    {
        try
        {
            var psi = new ProcessStartInfo("git", ["-C", RepoPaths.Root, "ls-files", "-z"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var git = Process.Start(psi)!;
            var stdout = git.StandardOutput.ReadToEndAsync();
            git.StandardError.ReadToEnd();
            git.WaitForExit();
            if (git.ExitCode == 0) return stdout.Result.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // no git on this machine
        }
        string[] skipped = ["bin", "obj", "runs", "artifacts", "TestResults", "BenchmarkDotNet.Artifacts", "gpu-bin"];
        return Directory.EnumerateFiles(RepoPaths.Root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(RepoPaths.Root, f).Replace('\\', '/'))
            .Where(f => f != ".git" && !f.Split('/')[..^1].Any(d => d.StartsWith('.') || skipped.Contains(d)))
            .ToList();
    }
}

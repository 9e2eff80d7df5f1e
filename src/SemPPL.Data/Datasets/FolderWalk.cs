namespace SemPPL.Data.Datasets;

/// <summary>
/// The files below a folder, at any depth. Directory links are followed, but each real directory is entered once
/// (by its canonical path, links resolved), so a link loop or a second link to the same folder adds nothing twice.
/// Sub-folders are walked in ordinal name order, so which of two routes to a folder counts is the same on every machine.
/// A folder that cannot be listed is reported to <paramref name="skip"/> and left out.
/// </summary>
public static class FolderWalk
{
    public static List<string> Files(string root, Action<string, string> skip)
    {
        var files = new List<string>();
        var entered = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<(string Path, string Real)>();
        pending.Push((root, RealPath(root)));
        while (pending.Count > 0)
        {
            var (dir, real) = pending.Pop();
            if (!entered.Add(real)) continue;
            try
            {
                files.AddRange(Directory.EnumerateFiles(dir));
                var subs = Directory.EnumerateDirectories(dir).OrderBy(d => d, StringComparer.Ordinal).ToList();
                for (int i = subs.Count - 1; i >= 0; i--)
                {
                    var info = new DirectoryInfo(subs[i]);
                    pending.Push((subs[i], info.LinkTarget is null ? Path.Combine(real, info.Name) : RealPath(subs[i])));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                skip(dir, $"cannot list the folder: {e.Message}");
            }
        }
        return files;
    }

    /// <summary>The path with every directory link on it resolved (what realpath(3) returns), for existing paths.</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string result = Path.GetPathRoot(full)!;
        foreach (var part in full[result.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(result, part);
            var info = new DirectoryInfo(next);
            // A link's final target has no link as its last part, but may have some above it: resolve those too.
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                next = RealPath(target.FullName);
            result = next;
        }
        return result;
    }
}
